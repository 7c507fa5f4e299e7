// Credentials from a YAML file (SPEC §8). Loaded at start; every load goes through the registry, so
// a bad document is refused (logged with every problem and counted) and the last good one stays.
import { readFile } from 'node:fs/promises';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { parseCredentials, type DocumentResult } from './document-load.js';
import type { CredentialsRegistry, ReloadResult } from './registry.js';

export class CredentialsLoadError extends Error {
  override readonly name = 'CredentialsLoadError';
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid credentials ${source}:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

export async function readCredentialsFile(file: string): Promise<DocumentResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { ok: false, problems: [`(file): cannot read ${JSON.stringify(file)}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`] };
  }
  return parseCredentials(text);
}

export class FileSource {
  constructor(
    private readonly file: string,
    private readonly registry: CredentialsRegistry,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {}

  /** Reads the file and offers it; a refused document leaves the registry as it was. */
  async load(): Promise<ReloadResult> {
    return this.apply(await readCredentialsFile(this.file));
  }

  /** The first load: a process without a valid document must not serve. */
  async loadInitial(): Promise<void> {
    const result = await readCredentialsFile(this.file);
    if (!result.ok) throw new CredentialsLoadError(this.file, result.problems);
    this.apply(result);
  }

  private apply(result: DocumentResult): ReloadResult {
    if (!result.ok) {
      this.metrics.reloads.inc({ result: 'rejected' });
      this.logger.error({ source: this.file, problems: result.problems }, 'credentials document refused; keeping the last good one');
      return 'rejected';
    }
    const outcome = this.registry.offer(result.snapshot);
    this.metrics.reloads.inc({ result: outcome });
    this.metrics.lastReload.set(Date.now() / 1000);
    if (outcome === 'applied') {
      const { byKeyId, tenants } = result.snapshot;
      this.logger.info({ source: this.file, credentials: byKeyId.size, tenants: tenants.size }, 'credentials loaded');
    }
    return outcome;
  }

  close(): void {}
}

// Credentials from a YAML file (SPEC §8). Loaded at start, then on every change: the FOLDER is
// watched, because Kubernetes updates a mounted Secret by swapping a `..data` symlink and editors
// write through rename, neither of which a watch on the file itself survives; a 1 s stat poll backs
// the watch up (network filesystems drop events). A bad document is refused (logged with every
// problem and counted) and the last good one stays. Freshness (SPEC §8 rev 2): every load is counted
// by result, and while the file holds the document in force its unchanged stat confirms it current.
import { readFile } from 'node:fs/promises';
import type { Logger } from '../telemetry/logger.js';
import { confirmCurrent, countReload, type Metrics } from '../telemetry/metrics.js';
import { parseCredentials, type DocumentResult } from './document-load.js';
import type { CredentialsRegistry, ReloadResult } from './registry.js';
import { documentVersion } from './snapshot.js';
import { ProblemsError } from '../config/problems.js';
import { FileWatch } from '../config/file-watch.js';

type TextResult = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly problems: readonly string[] };

async function readText(file: string): Promise<TextResult> {
  try {
    return { ok: true, text: await readFile(file, 'utf8') };
  } catch (err) {
    return { ok: false, problems: [`(file): cannot read ${JSON.stringify(file)}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`] };
  }
}

export async function readCredentialsFile(file: string): Promise<DocumentResult> {
  const r = await readText(file);
  return r.ok ? parseCredentials(r.text) : r;
}

/** A file that could not be read: a failed load ('error'), not a refused document. */
interface Unreadable {
  readonly unreadable: readonly string[];
}

/** What a load came to, as counted in custody_proxy_credential_reloads_total{result}. */
export type LoadResult = ReloadResult | 'error';

const DEBOUNCE_MS = 150;
// A folder that never goes quiet (a busy sibling file) must not postpone a load forever: the first
// pending event is answered within this bound (SPEC §8: a change takes effect within 2 s).
const DEBOUNCE_MAX_WAIT_MS = 500;
const POLL_MS = 1000;

export class FileSource {
  private readonly fileWatch: FileWatch;
  private debounce: NodeJS.Timeout | undefined;
  private pendingSince: number | undefined;
  private loading: Promise<LoadResult> | undefined;
  private again = false;
  /** the last document refused: the same text read again is not parsed (or counted) again, but still refused with its problems */
  private lastRefused: { readonly version: string; readonly problems: readonly string[] } | undefined;
  /** the problems of the last load, when it refused the document */
  private problems: readonly string[] = [];
  /** the file holds the document in force (last load applied or confirmed it); its stat poll then confirms freshness */
  private inSync = false;

  constructor(
    private readonly file: string,
    private readonly registry: CredentialsRegistry,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {
    this.fileWatch = new FileWatch([file], POLL_MS, 'credentials', logger);
  }

  /** Reads the file and offers it; a refused document leaves the registry as it was. */
  load(): Promise<LoadResult> {
    // One load at a time; a change that lands during a load triggers exactly one more.
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = this.readChanged()
      .then((r) => this.settle(r))
      .finally(() => {
        this.loading = undefined;
        if (this.again) {
          this.again = false;
          void this.load();
        }
      });
    return this.loading;
  }

  /** Starts watching the file's folder and polling its stat (config/file-watch.ts). */
  watch(): void {
    this.fileWatch.start({
      changed: () => this.schedule(),
      same: () => {
        // The same stat as the file the document in force came from: confirmed current, so the
        // staleness alert on the last-reload timestamp means the same for a file as for a 304.
        if (this.inSync && !this.loading) confirmCurrent(this.metrics);
      },
    });
  }

  private schedule(): void {
    const now = Date.now();
    this.pendingSince ??= now;
    clearTimeout(this.debounce);
    const wait = Math.max(0, Math.min(DEBOUNCE_MS, this.pendingSince + DEBOUNCE_MAX_WAIT_MS - now));
    this.debounce = setTimeout(() => {
      this.pendingSince = undefined;
      void this.load();
    }, wait);
    this.debounce.unref();
  }

  /**
   * The parsed document; 'unchanged' when the text is the one in force, 'refused before' when it is the
   * one last refused (no parse needed for either). The stat is taken first, so the poll does not load
   * the same change again after the watch did (one edit, one reload counted: SPEC §11 rev 2).
   */
  private async readChanged(): Promise<DocumentResult | Unreadable | 'unchanged' | 'refused before'> {
    await this.fileWatch.markRead();
    const r = await readText(this.file);
    if (!r.ok) return { unreadable: r.problems };
    const version = documentVersion(r.text);
    if (this.registry.current?.version === version) {
      // Back to the document in force: the same bad text saved again later is a new edit, refused and counted again.
      this.lastRefused = undefined;
      return 'unchanged';
    }
    if (version === this.lastRefused?.version) return 'refused before';
    const parsed = parseCredentials(r.text);
    this.lastRefused = parsed.ok ? undefined : { version, problems: parsed.problems };
    return parsed;
  }

  private settle(r: DocumentResult | Unreadable | 'unchanged' | 'refused before'): LoadResult {
    if (r === 'refused before') {
      this.problems = this.lastRefused?.problems ?? [];
      return 'rejected';
    }
    if (r === 'unchanged') {
      this.problems = [];
      return this.counted('unchanged');
    }
    if ('unreadable' in r) {
      this.problems = r.unreadable;
      this.logger.error({ source: this.file, problems: r.unreadable }, 'credentials file unreadable; keeping the last good document');
      return this.counted('error');
    }
    return this.apply(r);
  }

  private counted<R extends LoadResult>(result: R): R {
    countReload(this.metrics, result);
    this.inSync = result === 'applied' || result === 'unchanged';
    return result;
  }

  /** The first load: a process without a valid document must not serve. */
  async loadInitial(): Promise<void> {
    const result = await readCredentialsFile(this.file);
    if (!result.ok) throw new ProblemsError('credentials', this.file, result.problems);
    this.apply(result);
  }

  /** The problems of the last load when it refused the document (POST /admin/reload shows them); else none. */
  refusal(): readonly string[] {
    return this.problems;
  }

  private apply(result: DocumentResult): ReloadResult {
    this.problems = result.ok ? [] : result.problems;
    if (!result.ok) {
      this.logger.error({ source: this.file, problems: result.problems }, 'credentials document refused; keeping the last good one');
      return this.counted('rejected');
    }
    const outcome = this.counted(this.registry.offer(result.snapshot, this.file));
    if (outcome === 'applied') {
      const { byKeyId, tenants } = result.snapshot;
      this.logger.info({ source: this.file, credentials: byKeyId.size, tenants: tenants.size }, 'credentials loaded');
    }
    return outcome;
  }

  close(): void {
    this.fileWatch.close();
    clearTimeout(this.debounce);
  }
}

// Credentials from the control endpoint (SPEC §8): fetched at start and every pollInterval with
// If-None-Match and the bearer token from tokenFile; JSON or YAML by Content-Type. Any failure
// (refused, 5xx, garbage, invalid document) is logged and counted and the last good snapshot stays.
// Nothing is cached on disk: a restart while the endpoint is down stays not-ready rather than
// serving a stale document that could still hold a revoked key.
import type { Logger } from '../telemetry/logger.js';
import { countReload, type Metrics } from '../telemetry/metrics.js';
import { parseCredentials, parseCredentialsJson } from './document-load.js';
import type { CredentialsRegistry, ReloadResult } from './registry.js';

const FETCH_TIMEOUT_MS = 5000;

export interface UrlSourceOptions {
  readonly url: URL;
  readonly pollIntervalMs: number;
  /** read on every fetch: a rotated tokenFile is used from the next poll on */
  readonly token: { current(): string } | undefined;
}

export class UrlSource {
  private etag: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<ReloadResult | 'error'> | undefined;
  private closed = false;
  /** the problems of the last fetch, when it failed or refused the document */
  private problems: readonly string[] = [];

  constructor(
    private readonly options: UrlSourceOptions,
    private readonly registry: CredentialsRegistry,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {}

  /** One fetch; concurrent callers share it. */
  load(): Promise<ReloadResult | 'error'> {
    this.inFlight ??= this.fetchOnce().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  start(): void {
    const tick = (): void => {
      void this.load().finally(() => {
        // A fetch still in flight at close() must not re-arm the poll.
        if (this.closed) return;
        this.timer = setTimeout(tick, this.options.pollIntervalMs);
        this.timer.unref();
      });
    };
    tick();
  }

  /** The problems of the last fetch when it failed or was refused (POST /admin/reload shows them); else none. */
  refusal(): readonly string[] {
    return this.problems;
  }

  /** An invalid document is 'rejected' with its problems; an endpoint that did not deliver one is an 'error'. */
  private fail(reason: string, problems?: readonly string[]): 'rejected' | 'error' {
    countReload(this.metrics, problems ? 'rejected' : 'error');
    this.logger.error({ source: this.options.url.origin, reason, problems }, 'credentials fetch failed; keeping the last good document');
    this.problems = problems ?? [`credentials.url: ${reason}`];
    return problems ? 'rejected' : 'error';
  }

  private async fetchOnce(): Promise<ReloadResult | 'error'> {
    const headers: Record<string, string> = { accept: 'application/json, application/yaml;q=0.9, */*;q=0.1' };
    if (this.options.token) headers['authorization'] = `Bearer ${this.options.token.current()}`;
    // Only send the ETag while its document is in force; otherwise ask for the full document.
    if (this.etag && this.registry.current) headers['if-none-match'] = this.etag;
    let res: Response;
    let text: string;
    try {
      res = await fetch(this.options.url, { headers, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), redirect: 'error' });
      text = await res.text();
    } catch (err) {
      return this.fail(`request failed: ${(err as Error).name}`);
    }
    this.problems = [];
    // The endpoint confirms the document in force is current: freshness advances (SPEC §8 rev 2).
    if (res.status === 304) {
      countReload(this.metrics, 'unchanged');
      return 'unchanged';
    }
    if (res.status !== 200) return this.fail(`status ${res.status}`);
    const type = res.headers.get('content-type') ?? '';
    const result = /\bjson\b/i.test(type) ? parseCredentialsJson(text) : parseCredentials(text);
    if (!result.ok) return this.fail('invalid document', result.problems);
    const outcome = this.registry.offer(result.snapshot, this.options.url.origin);
    this.etag = res.headers.get('etag') ?? undefined;
    countReload(this.metrics, outcome);
    if (outcome === 'applied') this.logger.info({ source: this.options.url.origin, credentials: result.snapshot.byKeyId.size }, 'credentials loaded');
    return outcome;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }
}

// The load: autocannon's programmatic API (keep-alive connections, no pipelining) against one URL, run
// in the bench process itself. autocannon ships no types; the part used here is described below.
import { createRequire } from 'node:module';

interface AutocannonOptions {
  readonly url: string;
  readonly connections: number;
  readonly pipelining: number;
  /** seconds */
  readonly duration: number;
  readonly method: string;
  readonly amount?: number;
  readonly headers: Readonly<Record<string, string>>;
  /** seconds before a request counts as timed out */
  readonly timeout: number;
  readonly body?: string;
  readonly requests?: readonly AutocannonRequest[];
  /** ms between autocannon's samples; a run stops only at a sample, so this is also its granularity */
  readonly sampleInt: number;
}

/** One entry of autocannon's `requests`; `setupRequest` runs before every send and may edit a copy. */
interface AutocannonRequestData {
  headers: Record<string, string>;
}

interface AutocannonRequest {
  readonly setupRequest: (req: AutocannonRequestData) => AutocannonRequestData;
}

interface AutocannonResult {
  /** seconds */
  readonly duration: number;
  readonly errors: number;
  readonly non2xx: number;
  readonly latency: { readonly p50: number; readonly p99: number; readonly average: number; readonly max: number };
  readonly requests: { readonly total: number; readonly sent: number; readonly average: number };
}

type Autocannon = (options: AutocannonOptions) => PromiseLike<AutocannonResult>;

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

export interface LoadSpec {
  readonly url: string;
  readonly connections: number;
  readonly durationS: number;
  /** stop after this many requests instead of after durationS */
  readonly amount?: number;
  readonly headers: Readonly<Record<string, string>>;
  /** 'GET' when absent */
  readonly method?: string;
  readonly body?: string;
  /** called before every request: headers to add to that one request (e.g. a unique Idempotency-Key) */
  readonly perRequestHeaders?: () => Readonly<Record<string, string>>;
}

export interface LoadResult {
  readonly durationS: number;
  /** completed responses */
  readonly requests: number;
  readonly reqPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly non2xx: number;
  /** connection errors, timeouts included */
  readonly errors: number;
}

const withHeaders =
  (more: () => Readonly<Record<string, string>>) =>
  (req: AutocannonRequestData): AutocannonRequestData => {
    req.headers = { ...req.headers, ...more() };
    return req;
  };

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const r = await autocannon({
    url: spec.url,
    connections: spec.connections,
    pipelining: 1,
    duration: spec.durationS,
    method: spec.method ?? 'GET',
    headers: spec.headers,
    timeout: 10,
    // 1000 by default, which rounds every run up to whole seconds (a 1.25 s slice ran 2 s)
    sampleInt: 250,
    ...(spec.amount === undefined ? {} : { amount: spec.amount }),
    ...(spec.body === undefined ? {} : { body: spec.body }),
    ...(spec.perRequestHeaders === undefined ? {} : { requests: [{ setupRequest: withHeaders(spec.perRequestHeaders) }] }),
  });
  const durationS = r.duration > 0 ? r.duration : spec.durationS;
  return {
    durationS,
    requests: r.requests.total,
    reqPerSec: r.requests.total / durationS,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors,
  };
}

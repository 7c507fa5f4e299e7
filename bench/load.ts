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
  readonly headers: Readonly<Record<string, string>>;
  /** seconds before a request counts as timed out */
  readonly timeout: number;
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
  readonly headers: Readonly<Record<string, string>>;
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

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const r = await autocannon({
    url: spec.url,
    connections: spec.connections,
    pipelining: 1,
    duration: spec.durationS,
    method: 'GET',
    headers: spec.headers,
    timeout: 10,
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

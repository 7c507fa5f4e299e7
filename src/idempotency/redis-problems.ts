// Connection errors an operator has to fix, told apart from a Redis that is down or failing over: a
// wrong password or user (WRONGPASS, NOAUTH, NOPERM) and a certificate the proxy does not trust. They
// leave the store down (keyed 503, store_up 0) like any outage, but only a log line says why. That
// line holds the error's message alone, with every configured password cut out: ioredis' errors carry
// the failed command with its arguments (AUTH user password), so the error object is never logged.
import type { RedisClient, RedisTopology } from './redis-connection.js';
import { tlsProbeFor } from './redis-tls-probe.js';

export type ProblemReport = (problem: string) => void;

const LOGIN = /\b(WRONGPASS|NOAUTH|NOPERM)\b/;
const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH)/;
// ioredis' Sentinel error ("All sentinels are unreachable … Last error: …") keeps only the message.
const TLS_MESSAGE = /certificate|self[- ]signed|SSL routines|wrong version number/i;

/** The passwords a message must never show: the config's, and a URL's (as written and decoded). */
export function secretsOf(topology: RedisTopology): string[] {
  const out: string[] = [];
  if ('url' in topology) {
    const raw = URL.canParse(topology.url) ? new URL(topology.url).password : '';
    out.push(raw, safeDecode(raw));
  } else {
    out.push(topology.password ?? '');
    if ('sentinels' in topology) out.push(topology.sentinelPassword ?? '');
  }
  return out.filter((s) => s !== '');
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function scrub(text: string, secrets: readonly string[]): string {
  return secrets.reduce((t, s) => t.split(s).join('[redacted]'), text);
}

/** The problem an error reports (its message, scrubbed), or undefined when it is not a setup problem. */
export function setupProblem(err: unknown, secrets: readonly string[]): string | undefined {
  // A Cluster that reached no node says why in lastNodeError.
  for (const e of [err, (err as { lastNodeError?: unknown } | undefined)?.lastNodeError]) {
    if (!(e instanceof Error)) continue;
    const code = String((e as NodeJS.ErrnoException).code ?? '');
    if (LOGIN.test(e.message) || TLS_CODE.test(code) || TLS_MESSAGE.test(e.message)) {
      return scrub(code !== '' && !e.message.includes(code) ? `${e.message} (${code})` : e.message, secrets);
    }
  }
  return undefined;
}

/** Listens to the client's errors (ioredis prints them without a listener) and reports setup problems. */
export function watchSetupProblems(client: RedisClient, topology: RedisTopology, report: ProblemReport | undefined): void {
  const secrets = secretsOf(topology);
  // Sentinel and Cluster lose a certificate error before it reaches these events (redis-tls-probe.ts).
  const probe = report && tlsProbeFor(topology, (err, address) => {
    const problem = setupProblem(err, secrets);
    if (problem !== undefined) report(`TLS to ${address}: ${problem}`);
  });
  const onError = (err: unknown, address?: unknown): void => {
    const problem = setupProblem(err, secrets);
    if (problem !== undefined) report?.(problem);
    else probe?.recheck(typeof address === 'string' ? address : undefined);
  };
  // Other errors (refused connections, timeouts) surface as failed operations, as before.
  client.on('error', (err: unknown) => onError(err));
  // A Cluster reports a node's failed connection here (also while the slot map is still unknown).
  client.on('node error', onError);
  client.on('end', () => probe?.stop());
}

/** fn at most once per `ms` (a wrong password fails every reconnect: one line per interval is enough). */
export function atMostEvery(ms: number, fn: ProblemReport): ProblemReport {
  let last = -Infinity;
  return (problem) => {
    const now = performance.now();
    if (now - last < ms) return;
    last = now;
    fn(problem);
  };
}

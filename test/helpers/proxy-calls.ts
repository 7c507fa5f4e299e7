// Client utilities shared by the idempotency tests: one request per fresh connection to 127.0.0.1
// (call, startCall), and what those tests assert about the answers: a §10 error body, the end-to-end
// header lines a replay must reproduce, and how many times the upstream executed a given key.
import type http from 'node:http';
import type { Test } from 'tap';
import { startRequest, type InFlightRequest, type Reply, type RequestSpec } from './http-client.js';

export type CallReply = Reply;
export type CallSpec = Omit<RequestSpec, 'agent'>;
export type InFlightCall = InFlightRequest;

/** One request on a fresh connection to 127.0.0.1, keeping the raw response header lines. */
export function startCall(baseUrl: string, spec: CallSpec = {}): InFlightCall {
  if (new URL(spec.path ?? '/', baseUrl).hostname !== '127.0.0.1') throw new Error('tests only talk to 127.0.0.1');
  return startRequest(baseUrl, { timeoutMs: 15_000, ...spec });
}

export function call(baseUrl: string, spec: CallSpec = {}): Promise<CallReply> {
  return startCall(baseUrl, spec).reply;
}

/** Response header lines that a replay must reproduce: lowercased, in order, minus the regenerated ones. */
const REGENERATED = new Set(['date', 'x-request-id', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'set-cookie', 'idempotent-replayed']);
export function endToEndHeaders(reply: CallReply): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < reply.rawHeaders.length; i += 2) {
    const name = (reply.rawHeaders[i] ?? '').toLowerCase();
    if (!REGENERATED.has(name)) out.push([name, reply.rawHeaders[i + 1] ?? '']);
  }
  return out;
}

/** How many times the upstream executed a request carrying exactly this Idempotency-Key value. */
export function executions(requests: ReadonlyArray<{ readonly headers: http.IncomingHttpHeaders }>, ...keyValues: string[]): number {
  return requests.filter((r) => {
    const v = r.headers['idempotency-key'];
    return typeof v === 'string' && keyValues.includes(v);
  }).length;
}

/**
 * A §10 error body: status, code, JSON, no-store, requestId equal to the X-Request-Id header; labelled
 * `Idempotent-Replayed: true` exactly when it is a stored outcome replayed (SPEC §9 rev 2).
 */
export function assertProxyError(t: Test, r: CallReply, status: number, code: string, what: string, replayed = false): void {
  t.equal(r.status, status, `${what}: status ${status} (${r.text})`);
  let body: Record<string, unknown> = {};
  try {
    body = r.json();
  } catch {
    t.fail(`${what}: JSON body`);
  }
  t.equal(body['code'], code, `${what}: code ${code}`);
  t.match(r.headers['content-type'] ?? '', /^application\/json/, `${what}: JSON content type`);
  t.equal(r.headers['cache-control'], 'no-store', `${what}: no-store`);
  t.match(r.headers['x-request-id'] ?? '', /^req_/, `${what}: X-Request-Id`);
  t.equal(body['requestId'], r.headers['x-request-id'], `${what}: requestId equals X-Request-Id`);
  if (replayed) t.equal(r.headers['idempotent-replayed'], 'true', `${what}: labelled a replay`);
  else t.notOk(r.headers['idempotent-replayed'], `${what}: not marked as a replay`);
}

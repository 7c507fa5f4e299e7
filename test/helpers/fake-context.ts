// Builds a RequestContext (createContext, as the handler does) for unit-testing one stage without
// sockets: a real IncomingMessage on an unconnected Socket whose peer address is set by hand, header
// lines joined as Node's parser joins them, a ServerResponse that is never sent, and optionally a
// credentials snapshot compiled by the real document loader. Plus `refusal`, what a stage threw.
import http from 'node:http';
import { Socket } from 'node:net';
import { ProxyError, type ErrorCode } from '../../src/errors.js';
import { parseCredentials } from '../../src/credentials/document-load.js';
import type { Credential, CredentialsSnapshot } from '../../src/credentials/snapshot.js';
import { createContext, type RequestContext } from '../../src/pipeline/context.js';
import { credentialsYaml, type KeySpec, type TenantSpec } from './credentials.js';

export type HeaderLine = readonly [string, string];

export interface FakeRequest {
  /** default GET */
  readonly method?: string;
  /** the request target as received; default /v1/vaults */
  readonly url?: string;
  /** raw header lines, in order, duplicates allowed; default one `Host: proxy.test` line */
  readonly headers?: readonly HeaderLine[];
  /** the TCP peer as Node reports it (undefined: a socket already gone); default 127.0.0.1 */
  readonly remoteAddress?: string | undefined;
  /** reuse a connection (resolve-client remembers the peer per socket); remoteAddress is then ignored */
  readonly socket?: Socket;
  /** default 1.1 */
  readonly httpVersion?: '1.0' | '1.1';
  readonly snapshot?: CredentialsSnapshot;
  /** a key id of `snapshot`: its credential is put on the context, as authenticate would */
  readonly authenticatedAs?: string;
  readonly expectContinue?: boolean;
}

// As Node's IncomingMessage: these keep their first line, set-cookie is a list, cookie lines are joined
// with '; ', every other repeated name with ', ' (see the check in test/unit/helpers/fake-context.test.ts).
const FIRST_LINE_ONLY = new Set([
  'content-type', 'content-length', 'user-agent', 'referer', 'host', 'authorization', 'proxy-authorization',
  'if-modified-since', 'if-unmodified-since', 'from', 'location', 'max-forwards', 'retry-after', 'etag',
  'last-modified', 'server', 'age', 'expires',
]);

/** `req.headers` for these raw lines, as Node's parser would build it. */
export function joinHeaders(lines: readonly HeaderLine[]): http.IncomingHttpHeaders {
  const out: http.IncomingHttpHeaders = {};
  for (const [rawName, value] of lines) {
    const name = rawName.toLowerCase();
    const had = out[name];
    if (name === 'set-cookie') out['set-cookie'] = [...(out['set-cookie'] ?? []), value];
    else if (had === undefined) out[name] = value;
    else if (!FIRST_LINE_ONLY.has(name)) out[name] = `${String(had)}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
  return out;
}

const OWS = /^[ \t]+|[ \t]+$/g;

/** An unconnected socket that reports `remoteAddress` as its peer. */
export function fakeSocket(remoteAddress: string | undefined): Socket {
  const socket = new Socket();
  Object.defineProperty(socket, 'remoteAddress', { value: remoteAddress, configurable: true });
  return socket;
}

/** A received request as a stage sees it: method, target, header lines, version, peer. */
export function fakeRequest(spec: FakeRequest = {}): http.IncomingMessage {
  const req = new http.IncomingMessage(spec.socket ?? fakeSocket('remoteAddress' in spec ? spec.remoteAddress : '127.0.0.1'));
  // Node's parser strips the whitespace around a value (RFC 9110 §5.5 OWS).
  const lines = (spec.headers ?? [['Host', 'proxy.test']]).map(([name, value]): HeaderLine => [name, value.replace(OWS, '')]);
  req.method = spec.method ?? 'GET';
  req.url = spec.url ?? '/v1/vaults';
  req.rawHeaders = lines.flatMap(([name, value]) => [name, value]);
  req.headers = joinHeaders(lines);
  req.httpVersion = spec.httpVersion ?? '1.1';
  req.httpVersionMajor = 1;
  req.httpVersionMinor = req.httpVersion === '1.0' ? 0 : 1;
  return req;
}

/** The context the handler would build for this request (a fresh requestId, nothing resolved yet). */
export function fakeContext(spec: FakeRequest = {}): RequestContext {
  const req = fakeRequest(spec);
  const ctx = createContext(req, new http.ServerResponse(req), spec.snapshot, spec.expectContinue ?? false);
  if (spec.authenticatedAs !== undefined) {
    ctx.credential = credentialOf(spec.snapshot, spec.authenticatedAs);
    ctx.knownKeyId = spec.authenticatedAs;
  }
  return ctx;
}

/** A snapshot compiled from a credentials document built by helpers/credentials.ts; throws on problems. */
export function snapshotOf(tenants: TenantSpec[], keys: KeySpec[]): CredentialsSnapshot {
  const r = parseCredentials(credentialsYaml(tenants, keys));
  if (!r.ok) throw new Error(`credentials document refused:\n${r.problems.join('\n')}`);
  return r.snapshot;
}

export function credentialOf(snapshot: CredentialsSnapshot | undefined, keyId: string): Credential {
  const c = snapshot?.byKeyId.get(keyId);
  if (!c) throw new Error(`no credential ${keyId} in the snapshot`);
  return c;
}

export interface Refusal {
  readonly code: ErrorCode;
  readonly reason: string | undefined;
  readonly status: number;
}

/** What `run` refused with (a ProxyError's code, reason, status), or undefined when it returned. */
export function refusal(run: () => unknown): Refusal | undefined {
  try {
    run();
  } catch (err) {
    if (!(err instanceof ProxyError)) throw err;
    return { code: err.code, reason: err.reason, status: err.status };
  }
  return undefined;
}

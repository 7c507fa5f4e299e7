// The header set the upstream receives (SPEC §7), built on req.headers BEFORE forwarding
// (http-proxy-3's proxyReq event is skipped for `Expect: 100-continue`, so edits there can be lost).
// Whatever the client sent under the proxy's own names is dropped, in every spelling (case is folded
// by Node; names with `_` are dropped outright because some servers read them as `-`), as are client-IP
// claims and method/URL overrides, and a `Connection` listing can never remove what the proxy sets or
// the end-to-end framing. The body framing sent upstream is only what this stage sets. Cannot fail.
// Reads: req.headers, req.socket.encrypted, ctx.credential, ctx.requestId, ctx.clientIp, ctx.peerTrusted.
// Writes: req.headers (replaced by the upstream's set).
import type { IncomingHttpHeaders } from 'node:http';
import { addListedNames } from '../net/connection-listing.js';
import type { RequestContext } from '../pipeline/context.js';

/** Never forwarded from the client: credentials, hop-by-hop, and names the proxy sets itself. */
const DROPPED = new Set([
  'authorization',
  'proxy-authorization',
  'proxy-authenticate',
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  'expect',
  'host',
  'x-tenant-id',
  'x-credential-id',
  'x-request-id',
  'x-forwarded-for',
  'x-forwarded-proto',
  // other client-IP claims the upstream might believe; the proxy alone says who the client is
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-forwarded-server',
  'x-real-ip',
  'forwarded',
  'true-client-ip',
  'cf-connecting-ip',
  'x-client-ip',
  'x-cluster-client-ip',
  'fastly-client-ip',
  // Method and URL overrides: permissions were checked on the request line, and frameworks that honour
  // these would execute another method or path than the one checked (a GET-only key could DELETE).
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'x-original-method',
  'x-original-url',
  'x-rewrite-url',
]);

/** A `Connection` listing may not remove these. */
const PROTECTED = new Set(['idempotency-key', 'content-length', 'content-type', 'content-encoding']);

const removable = (name: string): boolean => !DROPPED.has(name) && !PROTECTED.has(name);

/** `upstreamHost` is host[:port] of the upstream, sent as Host. */
export function stampHeaders(upstreamHost: string): (ctx: RequestContext) => void {
  return (ctx) => {
    const { req } = ctx;
    const from = req.headers;
    const listed = from.connection ? addListedNames(from.connection, undefined, removable) : undefined;
    const out: IncomingHttpHeaders = {};
    for (const name in from) {
      if (DROPPED.has(name) || name.includes('_') || listed?.has(name)) continue;
      out[name] = from[name];
    }
    // Node has already decoded the chunked body; the upstream request is chunked again.
    if (from['transfer-encoding'] !== undefined) out['transfer-encoding'] = 'chunked';
    const credential = ctx.credential;
    out['host'] = upstreamHost;
    if (credential) {
      out['x-tenant-id'] = credential.tenant.id;
      out['x-credential-id'] = credential.keyId;
    }
    out['x-request-id'] = ctx.requestId;
    if (ctx.clientIp) out['x-forwarded-for'] = ctx.clientIp.text;
    // X-Forwarded-Proto is believed only from a trusted proxy (a TLS-terminating ingress), never a client;
    // it says how the client reached that proxy, so it wins over how the proxy reached us. Otherwise it is
    // this connection's own scheme: https on our TLS listener (a TLSSocket is `encrypted`).
    const proto = from['x-forwarded-proto'];
    const own = (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
    out['x-forwarded-proto'] = ctx.peerTrusted && (proto === 'https' || proto === 'http') ? proto : own;
    req.headers = out;
  };
}

// Resolves the client IP (SPEC §6) before any check, so every later reader sees the same address:
// the allowlist, stamp-headers' X-Forwarded-For, and the access line, also of a request refused with
// 401 behind a trusted ingress (SPEC §12 rev 2). Cannot fail: an unparsable X-Forwarded-For makes the
// client unknown (null), which the allowlist then denies.
// Reads: req.socket.remoteAddress, req.headers['x-forwarded-for']. Writes: ctx.clientIp, ctx.peerTrusted.
import type { Socket } from 'node:net';
import { resolveClientIp, type ClientAddress } from '../net/client-ip.js';
import type { IpMatcher } from '../net/ip-match.js';
import type { RequestContext } from '../pipeline/context.js';

// A connection's peer never changes: resolved once per keep-alive connection, not per request, and kept
// on the socket itself (a WeakMap cost a hash lookup on every request).
const PEER = Symbol('custody-proxy.peer');
type Resolved = Socket & { [PEER]?: ClientAddress };

function peerAddress(socket: Resolved, trusted: IpMatcher): ClientAddress {
  let a = socket[PEER];
  if (!a) {
    a = resolveClientIp(socket.remoteAddress, undefined, trusted);
    socket[PEER] = a;
  }
  return a;
}

export function resolveClient(trustedProxies: IpMatcher): (ctx: RequestContext) => void {
  return (ctx) => {
    // Node joins repeated X-Forwarded-For lines with ", " in order, so this is every line.
    const xff = trustedProxies.empty ? undefined : ctx.req.headers['x-forwarded-for'];
    const forwardedFor = typeof xff === 'string' ? xff : undefined;
    const { ip, peerTrusted } =
      forwardedFor === undefined ? peerAddress(ctx.req.socket, trustedProxies) : resolveClientIp(ctx.req.socket.remoteAddress, forwardedFor, trustedProxies);
    ctx.clientIp = ip;
    ctx.peerTrusted = peerTrusted;
  };
}

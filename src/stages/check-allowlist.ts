// Stage 2 (SPEC §6): the tenant's IP allowlist against the resolved client IP. An unknown client IP
// (unparsable X-Forwarded-For from a trusted proxy) is denied whenever the tenant has a list.
// Raises 403 FORBIDDEN with the same body as a permission denial.
import { ProxyError } from '../errors.js';
import { resolveClientIp, type ClientAddress } from '../net/client-ip.js';
import type { Socket } from 'node:net';
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

export function checkAllowlist(trustedProxies: IpMatcher): (ctx: RequestContext) => void {
  return (ctx) => {
    // Node joins repeated X-Forwarded-For lines with ", " in order, so this is every line.
    const xff = trustedProxies.empty ? undefined : ctx.req.headers['x-forwarded-for'];
    const forwardedFor = typeof xff === 'string' ? xff : undefined;
    const { ip, peerTrusted } = forwardedFor === undefined ? peerAddress(ctx.req.socket, trustedProxies) : resolveClientIp(ctx.req.socket.remoteAddress, forwardedFor, trustedProxies);
    ctx.clientIp = ip;
    ctx.peerTrusted = peerTrusted;
    const allow = ctx.credential?.tenant.allowList;
    if (!allow) return;
    if (ip === null) throw new ProxyError('FORBIDDEN', 'client_ip_unknown');
    if (!allow.contains(ip)) throw new ProxyError('FORBIDDEN', 'ip_not_allowed');
  };
}

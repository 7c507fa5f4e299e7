// The tenant's IP allowlist (SPEC §6) against the client IP resolve-client found. An unknown client IP
// (unparsable X-Forwarded-For from a trusted proxy) is denied whenever the tenant has a list.
// Raises 403 FORBIDDEN with the same body as a permission denial.
// Reads: ctx.credential (its tenant's allowList), ctx.clientIp. Writes: nothing.
import { ProxyError } from '../errors.js';
import type { RequestContext } from '../pipeline/context.js';

export function checkAllowlist(ctx: RequestContext): void {
  const allow = ctx.credential?.tenant.allowList;
  if (!allow) return;
  const ip = ctx.clientIp;
  if (ip === null || ip === undefined) throw new ProxyError('FORBIDDEN', 'client_ip_unknown');
  if (!allow.contains(ip)) throw new ProxyError('FORBIDDEN', 'ip_not_allowed');
}

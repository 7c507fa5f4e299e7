// The tenant's IP allowlist (SPEC §6) against the client IP resolve-client found. An unknown client IP
// (unparsable X-Forwarded-For from a trusted proxy) is denied whenever the tenant has a list.
// Raises 403 FORBIDDEN with the same body as a permission denial.
// Reads: ctx.credential (its tenant's allowList), ctx.clientIp. Writes: nothing.
import { ProxyError } from '../errors.js';
import type { RequestContext } from '../pipeline/context.js';

/** Every reason a denial here carries: custody_proxy_allowlist_denials_total exports each from start. */
export const ALLOWLIST_REASONS = ['ip_not_allowed', 'client_ip_unknown'] as const;
type AllowlistReason = (typeof ALLOWLIST_REASONS)[number];

function deny(reason: AllowlistReason): never {
  throw new ProxyError('FORBIDDEN', reason);
}

export function checkAllowlist(ctx: RequestContext): void {
  const allow = ctx.credential?.tenant.allowList;
  if (!allow) return;
  const ip = ctx.clientIp;
  if (ip === null || ip === undefined) deny('client_ip_unknown');
  if (!allow.contains(ip)) deny('ip_not_allowed');
}

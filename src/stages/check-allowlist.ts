// The IP allowlists (SPEC §6) against the client IP resolve-client found: the tenant's list, then the
// credential's own (rev 2), which narrows it: both must admit the client. An unknown client IP
// (unparsable X-Forwarded-For from a trusted proxy) is denied whenever either list is set.
// Raises 403 FORBIDDEN with the same body as a permission denial.
// Reads: ctx.credential (its tenant's and its own allowList), ctx.clientIp. Writes: nothing.
import { ProxyError } from '../errors.js';
import type { RequestContext } from '../pipeline/context.js';
import type { Ip, IpMatcher } from '../net/ip-match.js';

/** Every reason a denial here carries: custody_proxy_allowlist_denials_total exports each from start. */
export const ALLOWLIST_REASONS = ['ip_not_allowed', 'credential_ip_not_allowed', 'client_ip_unknown'] as const;
type AllowlistReason = (typeof ALLOWLIST_REASONS)[number];

/** Why the lists refuse this client IP, or undefined when every list that is set admits it. */
function denial(tenantList: IpMatcher | undefined, ownList: IpMatcher | undefined, ip: Ip | null | undefined): AllowlistReason | undefined {
  if (ip === null || ip === undefined) return 'client_ip_unknown';
  if (tenantList && !tenantList.contains(ip)) return 'ip_not_allowed';
  if (ownList && !ownList.contains(ip)) return 'credential_ip_not_allowed';
  return undefined;
}

export function checkAllowlist(ctx: RequestContext): void {
  const credential = ctx.credential;
  if (!credential) return;
  const tenantList = credential.tenant.allowList;
  // Lists compiled at load; null or empty ones are undefined, so the usual request stops here.
  if (!tenantList && !credential.allowList) return;
  const reason = denial(tenantList, credential.allowList, ctx.clientIp);
  if (reason !== undefined) throw new ProxyError('FORBIDDEN', reason);
}

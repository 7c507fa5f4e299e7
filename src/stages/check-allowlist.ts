// The IP allowlists (SPEC §6) against the client IP resolve-client found: the tenant's list, then the
// credential's own (rev 2), which narrows it: both must admit the client. An unknown client IP
// (unparsable X-Forwarded-For from a trusted proxy) is denied whenever either list is set.
// Raises 403 FORBIDDEN with the same body as a permission denial; a report-only tenant's denial is
// noted on the context instead and the request proceeds (rev 2).
// Reads: ctx.credential (its tenant's and its own allowList, the tenant's reportOnly), ctx.clientIp.
// Writes: ctx.reportOnly, for a report-only tenant's denial only.
import { ProxyError } from '../errors.js';
import type { RequestContext } from '../pipeline/context.js';
import { waive } from '../pipeline/report-only.js';
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
  const tenant = credential.tenant;
  // Lists compiled at load; null or empty ones are undefined, so the usual request stops here.
  if (!tenant.allowList && !credential.allowList) return;
  const reason = denial(tenant.allowList, credential.allowList, ctx.clientIp);
  if (reason === undefined) return;
  if (tenant.reportOnly) waive(ctx, 'allowlist', reason);
  else throw new ProxyError('FORBIDDEN', reason);
}

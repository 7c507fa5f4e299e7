// Permissions (SPEC §6 "insufficient permissions"): a credential with `permissions` may only use the
// methods and canonical paths its rules allow. Raises 403 FORBIDDEN (same body as the allowlist); a
// report-only tenant's denial is noted on the context instead and the request proceeds (rev 2).
// Reads: ctx.credential.permissions and its tenant's reportOnly, req.method, ctx.path.
// Writes: ctx.reportOnly, for a report-only tenant's denial only.
import { ProxyError } from '../errors.js';
import { permits } from '../credentials/permissions.js';
import type { RequestContext } from '../pipeline/context.js';
import { waive } from '../pipeline/report-only.js';

/** The reason a permission denial carries: counted as such, never as an allowlist denial (SPEC §11 rev 2). */
export const PERMISSION_REASON = 'permission';

export function checkPermissions(ctx: RequestContext): void {
  const credential = ctx.credential;
  const rules = credential?.permissions;
  if (!rules || permits(rules, ctx.req.method ?? '', ctx.path)) return;
  if (credential.tenant.reportOnly) waive(ctx, 'permission', PERMISSION_REASON);
  else throw new ProxyError('FORBIDDEN', PERMISSION_REASON);
}

// Permissions (SPEC §6 "insufficient permissions"): a credential with `permissions` may only use the
// methods and canonical paths its rules allow. Raises 403 FORBIDDEN (same body as the allowlist).
// Reads: ctx.credential.permissions, req.method, ctx.path. Writes: nothing.
import { ProxyError } from '../errors.js';
import { permits } from '../credentials/permissions.js';
import type { RequestContext } from '../pipeline/context.js';

/** The reason a permission denial carries: counted as such, never as an allowlist denial (SPEC §11 rev 2). */
export const PERMISSION_REASON = 'permission';

export function checkPermissions(ctx: RequestContext): void {
  const rules = ctx.credential?.permissions;
  if (rules && !permits(rules, ctx.req.method ?? '', ctx.path)) throw new ProxyError('FORBIDDEN', PERMISSION_REASON);
}

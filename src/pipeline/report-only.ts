// Report-only tenants (SPEC §6 rev 2): an allowlist or permission denial is noted on the context and
// the request proceeds; the access-log hook then logs one line per noted denial and counts it in
// custody_proxy_report_only_denials_total, never as an enforced denial. Authentication, target checks
// and rate limits are never report-only. This file raises no error code.
import type { Logger } from '../telemetry/logger.js';
import type { RequestContext } from './context.js';

/** The checks a report-only tenant waives: the bounded `check` label, each exported at 0 from start. */
export const REPORT_ONLY_CHECKS = ['allowlist', 'permission'] as const;
export type ReportOnlyCheck = (typeof REPORT_ONLY_CHECKS)[number];

export interface ReportOnlyDenial {
  readonly check: ReportOnlyCheck;
  /** the reason an enforced denial would have carried (ip_not_allowed, permission, …) */
  readonly reason: string;
}

/** Notes a denial the tenant's reportOnly lets through. Allocates only when a denial happens. */
export function waive(ctx: RequestContext, check: ReportOnlyCheck, reason: string): void {
  const denial: ReportOnlyDenial = { check, reason };
  if (ctx.reportOnly === undefined) ctx.reportOnly = [denial];
  else ctx.reportOnly.push(denial);
}

/**
 * One warn line per waived denial, naming what an operator needs to fix the list or the rules: tenant,
 * key id, check, reason, client IP, method and path (without the query). Never a secret or a header.
 */
export function logWaived(ctx: RequestContext, denials: readonly ReportOnlyDenial[], logger: Logger): void {
  if (!logger.isLevelEnabled('warn')) return;
  const q = ctx.path.indexOf('?');
  for (const { check, reason } of denials) {
    logger.warn(
      {
        requestId: ctx.requestId,
        reportOnly: true,
        check,
        reason,
        tenant: ctx.credential?.tenant.id,
        keyId: ctx.credential?.keyId,
        clientIp: ctx.clientIp === undefined ? undefined : (ctx.clientIp?.text ?? null),
        method: ctx.req.method ?? '',
        path: q === -1 ? ctx.path : ctx.path.slice(0, q),
      },
      'report-only denial',
    );
  }
}

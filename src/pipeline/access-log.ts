// One access line per request (SPEC §12) from an allow-list of fields, and the request metrics.
// The path is logged without its query (queries can carry identifiers); never headers or bodies.
// Proxy-made 5xx are logged at error, everything else at info.
import type { AccessLog, Logger } from '../telemetry/logger.js';
import { countParserError, countRefusal, countReportOnly, recordRequest, recordUpstream, statusClass, type Metrics } from '../telemetry/metrics.js';
import type { RequestContext } from './context.js';
import type { ParserRefusal } from '../server.js';
import { parsePeer } from '../net/ip-match.js';
import { logWaived } from './report-only.js';

export function recordAccess(ctx: RequestContext, log: AccessLog, metrics: Metrics, logger: Logger): void {
  const { req, res } = ctx;
  const waived = ctx.reportOnly;
  if (waived !== undefined) {
    for (const d of waived) countReportOnly(metrics, d.check);
    logWaived(ctx, waived, logger);
  }
  const durationMs = performance.now() - ctx.startedAt;
  const status = res.headersSent ? res.statusCode : 0;
  if (!res.writableFinished && ctx.outcome === 'ok') ctx.outcome = 'client_closed';
  const cls = statusClass(status);
  countRefusal(metrics, ctx.outcome, ctx.reason);
  recordRequest(metrics, ctx.outcome, cls, durationMs / 1000);
  if (ctx.upstreamMs !== undefined) recordUpstream(metrics, cls, ctx.upstreamMs / 1000);
  const level = status >= 500 && ctx.outcome !== 'ok' ? 'error' : 'info';
  if (level === 'error' ? !log.errorEnabled : !log.infoEnabled) return;
  const q = ctx.path.indexOf('?');
  log.write({
    level,
    time: Date.now(),
    requestId: ctx.requestId,
    method: req.method ?? '',
    path: q === -1 ? ctx.path : ctx.path.slice(0, q),
    status,
    outcome: ctx.outcome,
    reason: ctx.reason,
    reportOnly: waived !== undefined,
    durationMs,
    upstreamMs: ctx.upstreamMs,
    tenant: ctx.credential?.tenant.id ?? (ctx.knownKeyId === undefined ? undefined : ctx.snapshot?.byKeyId.get(ctx.knownKeyId)?.tenant.id),
    keyId: ctx.knownKeyId,
    clientIp: ctx.clientIp === undefined ? req.socket.remoteAddress : (ctx.clientIp?.text ?? null),
  });
}

/**
 * A request Node's parser refused (SPEC §12): it never reached the handler, so it has no method, path or
 * tenant, only the peer and Node's error code. Counted as outcome `parser_error` and logged at info, as
 * every other 4xx: probing before an attack must show in the log and the metrics.
 */
export function recordRefusal(r: ParserRefusal, log: AccessLog, metrics: Metrics): void {
  metrics.requests.inc('parser_error', statusClass(r.status));
  countParserError(metrics, r.code);
  if (!log.infoEnabled) return;
  log.write({
    level: 'info',
    time: Date.now(),
    requestId: r.requestId ?? '',
    method: '',
    path: '',
    status: r.status,
    outcome: 'parser_error',
    reason: r.code,
    durationMs: 0,
    upstreamMs: undefined,
    tenant: undefined,
    keyId: undefined,
    clientIp: parsePeer(r.peer)?.text ?? r.peer ?? null,
  });
}

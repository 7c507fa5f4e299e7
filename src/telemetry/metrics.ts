// Every metric in one place (SPEC §11): names `custody_proxy_*`, durations in seconds, labels bounded
// (outcome codes, status classes, reasons from fixed lists; never key ids, IPs or paths), and every
// labelled counter exported at 0 for each known label value from start (metric-labels.ts). Each app
// instance owns its registry so tests can run several side by side.
import { Counter, Registry } from 'prom-client';
import { RequestCounter, RequestHistogram } from './request-metrics.js';
import { registerBuildInfo, registerProcessMetrics } from './process-metrics.js';
import { credentialGauges, stateGauges, type InFlight, type ScrapeChecks } from './state-gauges.js';
import {
  ALLOWLIST_REASONS,
  AUTH_FAILURES,
  BROWSER_REASON,
  IDEMPOTENCY_OUTCOMES,
  PARSER_ERROR_CODES,
  PERMISSION_REASON,
  RATE_LIMIT_SCOPES,
  RELOAD_RESULTS,
  REPORT_ONLY_CHECKS,
  STORE_EVENTS,
  requestOutcomePairs,
  type IdempotencyOutcome,
  type ReloadCount,
  type StoreEvent,
} from './metric-labels.js';

export { statusClass } from './metric-labels.js';
export type { ScrapeChecks } from './state-gauges.js';

// Sub-millisecond buckets first: the proxy's own overhead (a local 401, a replay) is well under 1 ms,
// and a histogram whose first bound is 1 ms cannot tell 50 µs from 900 µs.
const DURATION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** A counter with one label, registered in `registry`, with a 0 series for each known value. */
export function labelledCounter<L extends string>(registry: Registry, name: string, help: string, label: L, known: readonly string[]): Counter<L> {
  const counter = new Counter({ name, help, labelNames: [label] as const, registers: [registry] });
  for (const v of known) counter.inc({ [label]: v } as Record<L, string>, 0);
  return counter;
}

/** The families updated on every request: array increments, read by prom-client at scrape time. */
function requestFamilies(registry: Registry) {
  const requests = new RequestCounter(
    'custody_proxy_requests_total',
    'Requests handled, by outcome (ok, replayed or an error code) and response status class',
    ['outcome', 'status_class'],
    registry,
  );
  for (const [outcome, cls] of requestOutcomePairs()) requests.inc(outcome, cls, 0);
  return {
    requests,
    requestDuration: new RequestHistogram('custody_proxy_request_duration_seconds', 'Time from request arrival to the end of the response', 'outcome', DURATION_BUCKETS, registry),
    upstreamDuration: new RequestHistogram('custody_proxy_upstream_duration_seconds', 'Time from forwarding to the end of the upstream response', 'status_class', DURATION_BUCKETS, registry),
  };
}

/** Refusals by the checks: browser requests, authentication, allowlist, permissions, the HTTP parser. */
function refusalFamilies(registry: Registry) {
  return {
    authFailures: labelledCounter(registry, 'custody_proxy_auth_failures_total', 'Rejected authentications by reason', 'reason', AUTH_FAILURES),
    allowlistDenials: labelledCounter(
      registry,
      'custody_proxy_allowlist_denials_total',
      'Requests refused by an IP allowlist (tenant or credential), by reason',
      'reason',
      ALLOWLIST_REASONS,
    ),
    permissionDenials: new Counter({
      name: 'custody_proxy_permission_denials_total',
      help: "Requests refused because the credential's permissions do not cover the method and path",
      registers: [registry],
    }),
    // Unlabelled, so prom-client exports it at 0 from start (SPEC §11 rev 2).
    browserRefusals: new Counter({
      name: 'custody_proxy_browser_refusals_total',
      help: 'Requests refused before authentication because a browser made them (Origin or Sec-Fetch-Mode; browserRequests: refuse)',
      registers: [registry],
    }),
    // Not refusals: what a report-only tenant's checks would have refused (SPEC §6 rev 2).
    reportOnlyDenials: labelledCounter(
      registry,
      'custody_proxy_report_only_denials_total',
      'Allowlist and permission denials of report-only tenants, logged and let through (not enforced), by check',
      'check',
      REPORT_ONLY_CHECKS,
    ),
    rateLimitRefusals: labelledCounter(registry, 'custody_proxy_rate_limit_refusals_total', 'Requests refused with 429 RATE_LIMITED, by the limit that refused: tenant, key or failed_auth', 'scope', RATE_LIMIT_SCOPES),
    rateLimitStoreErrors: new Counter({
      name: 'custody_proxy_rate_limit_store_errors_total',
      help: 'Rate limit checks the shared store could not answer (the request then follows rateLimits.onStoreError)',
      registers: [registry],
    }),
    // Node's parser error codes (HPE_*, ERR_HTTP_REQUEST_TIMEOUT): a fixed set, so the label is bounded.
    parserErrors: labelledCounter(
      registry,
      'custody_proxy_parser_errors_total',
      'Requests refused by the HTTP parser (malformed framing, oversized headers, timeouts), by Node error code',
      'reason',
      PARSER_ERROR_CODES,
    ),
  };
}

function idempotencyFamilies(registry: Registry) {
  return {
    idempotency: labelledCounter(
      registry,
      'custody_proxy_idempotency_total',
      'Keyed requests by idempotency outcome: stored, replayed, conflict, in_progress, released, store_error, evicted, owner_lost, response_unavailable',
      'outcome',
      IDEMPOTENCY_OUTCOMES,
    ),
    storeEvents: labelledCounter(
      registry,
      'custody_proxy_idempotency_store_events_total',
      'Idempotency store events that are not a request outcome: late answers stored, released or dropped, completions not stored, settle and lease renewal failures',
      'event',
      STORE_EVENTS,
    ),
    storeLosses: new Counter({
      name: 'custody_proxy_idempotency_store_losses_total',
      help: 'Idempotency store losses detected (a Redis that forgot its records: restart without persistence, flush, failover)',
      registers: [registry],
    }),
    reloads: labelledCounter(registry, 'custody_proxy_credential_reloads_total', 'Credential document loads by result (applied, unchanged, rejected, error)', 'result', RELOAD_RESULTS),
  };
}

export function createMetrics(options: { processMetrics: boolean } = { processMetrics: true }) {
  const registry = new Registry();
  if (options.processMetrics) registerProcessMetrics(registry);
  registerBuildInfo(registry);
  const scrapeChecks: ScrapeChecks = {};
  // A plain count kept by the request handler: an increment per request instead of prom-client's
  // inc()/dec(), read by the gauge at scrape time.
  const inFlight: InFlight = { requests: 0 };
  return {
    registry,
    scrapeChecks,
    inFlight,
    ...requestFamilies(registry),
    ...refusalFamilies(registry),
    ...idempotencyFamilies(registry),
    ...stateGauges(registry, scrapeChecks, inFlight),
    ...credentialGauges(registry),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

// Label children resolved once per (metric, label values): prom-client otherwise hashes the label
// set on every call, which was a visible share of a request's cost.
const children = new WeakMap<object, Map<string, unknown>>();

function child<T>(metric: object, key: string, make: () => T): T {
  let byKey = children.get(metric);
  if (!byKey) children.set(metric, (byKey = new Map()));
  let found = byKey.get(key) as T | undefined;
  if (found === undefined) {
    found = make();
    byKey.set(key, found);
  }
  return found;
}

function incLabelled<L extends string>(counter: Counter<L>, label: L, value: string): void {
  child(counter, value, () => counter.labels({ [label]: value } as Record<L, string>)).inc();
}

/** The per-request counter and duration histogram. */
export function recordRequest(metrics: Metrics, outcome: string, cls: string, seconds: number): void {
  metrics.requests.inc(outcome, cls);
  metrics.requestDuration.observe(outcome, seconds);
}

/** What a 401, 403 or 429 counts: auth failures by reason; allowlist, permission and browser refusals apart (SPEC §11 rev 2); rate-limit refusals by scope. */
export function countRefusal(metrics: Metrics, outcome: string, reason: string | undefined): void {
  if (outcome === 'RATE_LIMITED') incLabelled(metrics.rateLimitRefusals, 'scope', reason ?? 'unknown');
  else if (outcome === 'UNAUTHORIZED') incLabelled(metrics.authFailures, 'reason', reason ?? 'unknown');
  else if (outcome !== 'FORBIDDEN') return;
  else if (reason === PERMISSION_REASON) metrics.permissionDenials.inc();
  else if (reason === BROWSER_REASON) metrics.browserRefusals.inc();
  else incLabelled(metrics.allowlistDenials, 'reason', reason ?? 'unknown');
}

/** A denial a report-only tenant let through: never counted as an enforced allowlist or permission denial. */
export function countReportOnly(metrics: Metrics, check: string): void {
  incLabelled(metrics.reportOnlyDenials, 'check', check);
}

/** A request Node's parser refused, by its error code. */
export function countParserError(metrics: Metrics, code: string): void {
  incLabelled(metrics.parserErrors, 'reason', code);
}

/** One keyed request's idempotency outcome (stored, replayed, conflict, …). */
export function countIdempotency(metrics: Metrics, outcome: IdempotencyOutcome): void {
  incLabelled(metrics.idempotency, 'outcome', outcome);
}

/** A store event that is not a request's outcome (late_stored, not_stored, settle_failed, …). */
export function countStoreEvent(metrics: Metrics, event: StoreEvent): void {
  incLabelled(metrics.storeEvents, 'event', event);
}

/**
 * One credentials load. A load that applied the document or confirmed the one in force (an unchanged
 * file, a 304) advances the freshness timestamp and sets last_reload_success 1; a refused or failed one sets it 0.
 */
export function countReload(metrics: Metrics, result: ReloadCount): void {
  incLabelled(metrics.reloads, 'result', result);
  const ok = result === 'applied' || result === 'unchanged';
  metrics.lastReloadSuccess.set(ok ? 1 : 0);
  if (ok) metrics.lastReload.set(Date.now() / 1000);
}

/** The credentials in force were confirmed current without a load (the file's stat is unchanged). */
export function confirmCurrent(metrics: Metrics): void {
  metrics.lastReload.set(Date.now() / 1000);
}

/** The upstream duration histogram. */
export function recordUpstream(metrics: Metrics, cls: string, seconds: number): void {
  metrics.upstreamDuration.observe(cls, seconds);
}

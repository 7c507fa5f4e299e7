// Every metric in one place (SPEC §11): names `custody_proxy_*`, durations in seconds, labels bounded
// (outcome codes, status classes, reasons from fixed lists; never key ids, IPs or paths). Each app
// instance owns its registry so tests can run several side by side.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { RequestCounter, RequestHistogram } from './request-metrics.js';

const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** A counter with one label, registered in `registry`. */
function labelledCounter<L extends string>(registry: Registry, name: string, help: string, label: L): Counter<L> {
  return new Counter({ name, help, labelNames: [label] as const, registers: [registry] });
}

/** The families updated on every request: array increments, read by prom-client at scrape time. */
function requestFamilies(registry: Registry) {
  return {
    requests: new RequestCounter(
      'custody_proxy_requests_total',
      'Requests handled, by outcome (ok, replayed or an error code) and response status class',
      ['outcome', 'status_class'],
      registry,
    ),
    requestDuration: new RequestHistogram('custody_proxy_request_duration_seconds', 'Time from request arrival to the end of the response', 'outcome', DURATION_BUCKETS, registry),
    upstreamDuration: new RequestHistogram('custody_proxy_upstream_duration_seconds', 'Time from forwarding to the end of the upstream response', 'status_class', DURATION_BUCKETS, registry),
  };
}

/** Checks run at scrape time; set once the thing they check exists (the store is made after the metrics). */
export interface ScrapeChecks {
  storeUp?: () => Promise<unknown>;
}

export function createMetrics(options: { processMetrics: boolean } = { processMetrics: true }) {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  const scrapeChecks: ScrapeChecks = {};
  return {
    registry,
    scrapeChecks,
    ...requestFamilies(registry),
    authFailures: labelledCounter(registry, 'custody_proxy_auth_failures_total', 'Rejected authentications by reason', 'reason'),
    allowlistDenials: labelledCounter(registry, 'custody_proxy_allowlist_denials_total', 'Requests refused by a tenant IP allowlist or a credential permission', 'reason'),
    // Node's parser error codes (HPE_*, ERR_HTTP_REQUEST_TIMEOUT): a fixed set, so the label is bounded.
    parserErrors: labelledCounter(
      registry,
      'custody_proxy_parser_errors_total',
      'Requests refused by the HTTP parser (malformed framing, oversized headers, timeouts), by Node error code',
      'reason',
    ),
    idempotency: labelledCounter(
      registry,
      'custody_proxy_idempotency_total',
      'Idempotency outcomes: stored, replayed, conflict, in_progress, released, store_error, evicted',
      'outcome',
    ),
    storeUp: new Gauge({
      name: 'custody_proxy_idempotency_store_up',
      help: 'Whether the idempotency store answered its last check (1) or not (0); checked at every scrape and readiness probe',
      registers: [registry],
      // The store answers or fails within its own 1 s deadline, so a scrape waits at most that long.
      async collect() {
        await scrapeChecks.storeUp?.();
      },
    }),
    storeLosses: new Counter({
      name: 'custody_proxy_idempotency_store_losses_total',
      help: 'Idempotency store losses detected (a Redis that forgot its records: restart without persistence, flush, failover)',
      registers: [registry],
    }),
    reloads: labelledCounter(registry, 'custody_proxy_credential_reloads_total', 'Credential document loads by result (applied, unchanged, rejected, error)', 'result'),
    lastReload: new Gauge({ name: 'custody_proxy_credential_last_reload_timestamp_seconds', help: 'Unix time of the last successful credentials load', registers: [registry] }),
    credentials: new Gauge({ name: 'custody_proxy_credentials', help: 'Credentials in the document in force, by status', labelNames: ['status'] as const, registers: [registry] }),
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

/** The per-request counter and duration histogram. */
export function recordRequest(metrics: Metrics, outcome: string, cls: string, seconds: number): void {
  metrics.requests.inc(outcome, cls);
  metrics.requestDuration.observe(outcome, seconds);
}

/** One idempotency outcome (stored, replayed, conflict, …). */
export function countIdempotency(metrics: Metrics, outcome: string): void {
  const { idempotency } = metrics;
  child(idempotency, outcome, () => idempotency.labels({ outcome })).inc();
}

const STATUS_CLASSES = ['other', '1xx', '2xx', '3xx', '4xx', '5xx'];

export function statusClass(status: number): string {
  return status >= 100 && status < 600 ? (STATUS_CLASSES[Math.floor(status / 100)] ?? 'other') : 'other';
}

/** The upstream duration histogram. */
export function recordUpstream(metrics: Metrics, cls: string, seconds: number): void {
  metrics.upstreamDuration.observe(cls, seconds);
}

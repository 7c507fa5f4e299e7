// The known values of every bounded metric label (SPEC §11). Each labelled counter is exported at 0
// for each of them from start: a series that first appears at 1 is invisible to increase() and
// rate(), so an alert on the first bad reload or the first store error would never fire.
import { ERROR_CATALOGUE } from '../errors.js';
import { AUTH_FAILURES } from '../stages/authenticate.js';
import { ALLOWLIST_REASONS } from '../stages/check-allowlist.js';
import { PERMISSION_REASON } from '../stages/check-permissions.js';
import { BROWSER_REASON } from '../stages/refuse-browser.js';
import { REPORT_ONLY_CHECKS } from '../pipeline/report-only.js';
import { RATE_LIMIT_SCOPES } from '../ratelimit/bucket.js';

export { AUTH_FAILURES, ALLOWLIST_REASONS, PERMISSION_REASON, BROWSER_REASON, REPORT_ONLY_CHECKS, RATE_LIMIT_SCOPES };

const STATUS_CLASSES = ['other', '1xx', '2xx', '3xx', '4xx', '5xx'];

export function statusClass(status: number): string {
  return status >= 100 && status < 600 ? (STATUS_CLASSES[Math.floor(status / 100)] ?? 'other') : 'other';
}

export const RELOAD_RESULTS = ['applied', 'unchanged', 'rejected', 'error'] as const;
export type ReloadCount = (typeof RELOAD_RESULTS)[number];

/**
 * What one keyed request came to (custody_proxy_idempotency_total{outcome}): SPEC §11's list, plus
 * owner_lost (502: the owner died before storing) and response_unavailable (409: the stored answer
 * was too large), which are per-request answers too. `evicted` is SPEC's, kept although it is a store event.
 */
export const IDEMPOTENCY_OUTCOMES = [
  'stored',
  'replayed',
  'conflict',
  'in_progress',
  'released',
  'store_error',
  'evicted',
  'owner_lost',
  'response_unavailable',
] as const;
export type IdempotencyOutcome = (typeof IDEMPOTENCY_OUTCOMES)[number];

/**
 * What the store did apart from a request's answer (custody_proxy_idempotency_store_events_total{event}):
 * late answers after a 504, completions refused because the store no longer held the claim, and
 * settle or lease-renewal attempts the store failed (retried, the lease held meanwhile).
 */
export const STORE_EVENTS = [
  'late_stored',
  'late_released',
  'late_dropped',
  'not_stored',
  'settle_failed',
  'settle_abandoned',
  'lease_renewal_failed',
] as const;
export type StoreEvent = (typeof STORE_EVENTS)[number];

/**
 * Node's parser refusals a client can cause (llhttp's error enum, Node's header and chunk-extension
 * overflows, its request timeout). Other HPE_* codes are still counted; these are the ones exported at 0.
 */
export const PARSER_ERROR_CODES = [
  'HPE_HEADER_OVERFLOW',
  'HPE_CHUNK_EXTENSIONS_OVERFLOW',
  'HPE_INVALID_METHOD',
  'HPE_INVALID_URL',
  'HPE_INVALID_VERSION',
  'HPE_INVALID_CONSTANT',
  'HPE_INVALID_HEADER_TOKEN',
  'HPE_INVALID_CONTENT_LENGTH',
  'HPE_UNEXPECTED_CONTENT_LENGTH',
  'HPE_INVALID_TRANSFER_ENCODING',
  'HPE_INVALID_CHUNK_SIZE',
  'HPE_CR_EXPECTED',
  'HPE_LF_EXPECTED',
  'HPE_UNEXPECTED_SPACE',
  'HPE_STRICT',
  'HPE_CLOSED_CONNECTION',
  'ERR_HTTP_REQUEST_TIMEOUT',
] as const;

const FORWARDED_CLASSES = ['2xx', '3xx', '4xx', '5xx'];

/**
 * The (outcome, status_class) pairs of custody_proxy_requests_total that can occur: forwarded and
 * replayed answers in any class, each error code in its own class, parser refusals (answered 4xx, or
 * not answered: 'other'), and requests that ended before an answer.
 */
export function requestOutcomePairs(): Array<readonly [string, string]> {
  const pairs: Array<readonly [string, string]> = [];
  for (const outcome of ['ok', 'replayed']) for (const cls of FORWARDED_CLASSES) pairs.push([outcome, cls]);
  for (const [code, { status }] of Object.entries(ERROR_CATALOGUE)) pairs.push([code, statusClass(status)]);
  pairs.push(['parser_error', '4xx'], ['parser_error', 'other'], ['client_closed', 'other'], ['not_processed', 'other']);
  return pairs;
}

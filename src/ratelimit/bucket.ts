// What one rate limit is at run time (SPEC §13): a bucket of `burst` requests refilled at `limit` per
// `window`, checked with GCRA (the generic cell rate algorithm): one number per bucket, the
// "theoretical arrival time" (TAT), so a check is one read and one write, in memory and in Redis alike.
// Buckets are compiled once per credentials document, never per request.
import { createHash } from 'node:crypto';

/** Which rule refused: also the label of custody_proxy_rate_limit_refusals_total. */
export const RATE_LIMIT_SCOPES = ['tenant', 'key', 'failed_auth'] as const;
export type RateLimitScope = (typeof RATE_LIMIT_SCOPES)[number];

/** A `rateLimit` as written in the credentials document (window already in milliseconds). */
export interface RateLimitSpec {
  readonly limit: number;
  readonly window: number;
  readonly burst?: number | undefined;
}

export interface Bucket {
  /**
   * The state's name. It includes the limit's parameters, so a reload that changes a limit starts that
   * bucket afresh while every unchanged limit keeps its state (and an edit that is reverted finds it again).
   */
  readonly key: string;
  readonly scope: RateLimitScope;
  readonly limit: number;
  readonly windowMs: number;
  readonly burst: number;
  /** GCRA emission interval: one request's share of the window */
  readonly intervalMs: number;
  /** GCRA tolerance: how far ahead of now the TAT may run, burst × interval */
  readonly toleranceMs: number;
}

/** A refused check: which bucket, and how long until it admits one request again. */
export interface Refusal {
  readonly bucket: Bucket;
  readonly waitMs: number;
}

export function makeBucket(scope: RateLimitScope, name: string, spec: RateLimitSpec): Bucket {
  const burst = spec.burst ?? spec.limit;
  const intervalMs = spec.window / spec.limit;
  return Object.freeze({
    key: `${name}:${spec.limit}:${spec.window}:${burst}`,
    scope,
    limit: spec.limit,
    windowMs: spec.window,
    burst,
    intervalMs,
    toleranceMs: intervalMs * burst,
  });
}

/**
 * The Redis Cluster hash tag of a tenant: its buckets and its keys' buckets share one slot, so one
 * script can check both atomically. Hashed so that no tenant id (any visible ASCII, `{` and `:` too)
 * can end the tag early or make two names collide.
 */
function tenantTag(tenantId: string): string {
  return `{${createHash('sha256').update(tenantId).digest('hex').slice(0, 20)}}`;
}

export function tenantBucket(tenantId: string, spec: RateLimitSpec): Bucket {
  return makeBucket('tenant', `${tenantTag(tenantId)}:t`, spec);
}

/** Key ids never contain ':' (SPEC §4), so the name cannot run into the parameters. */
export function keyBucket(tenantId: string, keyId: string, spec: RateLimitSpec): Bucket {
  return makeBucket('key', `${tenantTag(tenantId)}:k:${keyId}`, spec);
}

/** The buckets a credential's requests are checked against: its tenant's, then its own; undefined when none. */
export function credentialBuckets(tenant: Bucket | undefined, own: Bucket | undefined): readonly Bucket[] | undefined {
  if (!tenant && !own) return undefined;
  return Object.freeze([tenant, own].filter((b): b is Bucket => b !== undefined));
}

/** Whole seconds for Retry-After (SPEC §13): at least 1, never longer than the window (rounded up). */
export function retryAfterSeconds(refusal: Refusal): number {
  const cap = Math.max(1, Math.ceil(refusal.bucket.windowMs / 1000));
  return Math.min(cap, Math.max(1, Math.ceil(refusal.waitMs / 1000)));
}

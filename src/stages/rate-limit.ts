// Rate limits (SPEC §13): the tenant's limit (all its keys together) and the key's own, both when both
// are set, charged together or not at all. After the permission check and before the terminal, so a
// refused request is never claimed or forwarded. Raises 429 RATE_LIMITED (reason: the refusing scope)
// with Retry-After and the RateLimit fields, or, when the shared store fails and onStoreError is deny,
// 503 SERVICE_UNAVAILABLE.
// Reads: ctx.credential.rateLimits. Writes: nothing.
import { ProxyError } from '../errors.js';
import { retryAfterSeconds, type Refusal } from '../ratelimit/bucket.js';
import { refusalHeaders } from '../ratelimit/headers.js';
import type { Limiter, Verdict } from '../ratelimit/limiter.js';
import type { RequestContext } from '../pipeline/context.js';

/** What a failed store check does: returns to let the request pass (allow) or throws (deny). */
export type StoreErrorPolicy = (err: unknown) => void;

/** The reason of a 503 caused by the rate limit store (onStoreError: deny), for logs and metrics. */
export const STORE_ERROR_REASON = 'rate_limit_store_error';

export function refuse(refusal: Refusal): never {
  throw new ProxyError('RATE_LIMITED', refusal.bucket.scope, retryAfterSeconds(refusal), undefined, refusalHeaders(refusal));
}

function refuseIf(verdict: Verdict): void {
  if (verdict !== undefined) refuse(verdict);
}

/**
 * onStoreError (SPEC §3): `allow` lets the request pass (limits fail open); `deny` answers 503, not
 * 429: the client did nothing wrong, and a 5xx is what alerts and client retries expect of an outage.
 */
export function storeErrorPolicy(mode: 'allow' | 'deny', report: (err: unknown) => void): StoreErrorPolicy {
  return (err) => {
    report(err);
    if (mode === 'deny') throw new ProxyError('SERVICE_UNAVAILABLE', STORE_ERROR_REASON, 1);
  };
}

export function rateLimit(limiter: Limiter, onStoreError: StoreErrorPolicy): (ctx: RequestContext) => void | Promise<void> {
  return (ctx) => {
    // A credential without limits costs this one read: no call, no promise, no allocation.
    const buckets = ctx.credential?.rateLimits;
    if (buckets === undefined) return;
    const verdict = limiter.take(buckets);
    if (verdict === undefined) return;
    if (verdict instanceof Promise) return verdict.then(refuseIf, onStoreError);
    refuse(verdict);
  };
}

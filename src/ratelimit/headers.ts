// The header fields of a 429 RATE_LIMITED (SPEC §13): Retry-After, and RateLimit-Policy / RateLimit
// as in draft-ietf-httpapi-ratelimit-headers-10 (structured-field lists of items named by policy:
// `"tenant";q=100;w=1` and `"tenant";r=0;t=1`). Only refusals carry them (README "Rate limits").
import { retryAfterSeconds, type Bucket, type Refusal } from './bucket.js';

/**
 * The draft's `w` is whole seconds: a window that is not is stated as the equivalent quota over the
 * window rounded up to whole seconds (500 requests per 1500ms → q=666;w=2), never more than the limit allows.
 */
export function policyField(b: Bucket): string {
  const w = Math.max(1, Math.ceil(b.windowMs / 1000));
  const q = w * 1000 === b.windowMs ? b.limit : Math.max(1, Math.floor((b.limit * w * 1000) / b.windowMs));
  return `"${b.scope}";q=${q};w=${w}`;
}

/** Retry-After plus the two draft fields; `t` (seconds until the quota allows a request) equals Retry-After. */
export function refusalHeaders(refusal: Refusal): Readonly<Record<string, string>> {
  const t = retryAfterSeconds(refusal);
  return {
    'ratelimit-policy': policyField(refusal.bucket),
    ratelimit: `"${refusal.bucket.scope}";r=0;t=${t}`,
  };
}

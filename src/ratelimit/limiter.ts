// The rate limiter interface (SPEC §13): one implementation per store, `memory` (per replica,
// memory-limiter.ts) and `redis` (shared, redis-limiter.ts), run against one contract suite
// (test/contract/limiter-contract.ts). The memory limiter answers synchronously so that the request
// path allocates no promise; the Redis one returns a promise that rejects with RateLimitStoreError.
import type { Bucket, Refusal } from './bucket.js';

export type Verdict = Refusal | undefined;

export interface Limiter {
  readonly kind: 'memory' | 'redis';
  /**
   * One request against every bucket, atomically: when all admit it, each is charged and the answer
   * is undefined; otherwise nothing is charged and the refusal with the longest wait is returned.
   */
  take(buckets: readonly Bucket[]): Verdict | Promise<Verdict>;
  /** Would a request be refused now? Charges nothing (failed-authentication throttling looks first). */
  peek(bucket: Bucket): Verdict | Promise<Verdict>;
  /**
   * Charges one unconditionally (a failed authentication has happened, admitted or not); the bucket
   * never runs further ahead than its tolerance, so a refusal never outlasts the window.
   */
  add(bucket: Bucket): void | Promise<void>;
  close(): Promise<void>;
}

/** The store could not answer (Redis down or slower than its deadline): `onStoreError` decides. */
export class RateLimitStoreError extends Error {
  override readonly name = 'RateLimitStoreError';
}

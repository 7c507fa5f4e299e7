// The `memory` rate limiter (SPEC §13): GCRA in a Map of bucket key → TAT (ms on the monotonic
// clock), counting this replica's requests only. Synchronous, and an admitted request allocates no
// object. A TAT in the past means a full bucket, the same as no entry, so expired entries are swept
// (unref'd timer) and, past maxEntries (failed-auth buckets are per client IP, so an attacker picks
// how many), the oldest entries go first: memory stays bounded whatever the traffic.
import type { Bucket } from './bucket.js';
import type { Limiter, Verdict } from './limiter.js';

export interface MemoryLimiterOptions {
  /** bound on buckets held; default 100 000 */
  readonly maxEntries?: number;
  /** the clock, in ms (tests); default performance.now */
  readonly now?: () => number;
}

const SWEEP_MS = 10_000;
// Float sums of intervals may differ from interval × burst in the last bits: the burst-th request of
// a burst must not be refused for a billionth of a millisecond.
const EPSILON_MS = 1e-6;

export class MemoryLimiter implements Limiter {
  readonly kind = 'memory';
  readonly #tats = new Map<string, number>();
  readonly #max: number;
  readonly #now: () => number;
  readonly #sweeper: NodeJS.Timeout;

  constructor(options: MemoryLimiterOptions = {}) {
    this.#max = options.maxEntries ?? 100_000;
    this.#now = options.now ?? (() => performance.now());
    this.#sweeper = setInterval(() => this.#sweep(this.#now()), SWEEP_MS).unref();
  }

  take(buckets: readonly Bucket[]): Verdict {
    const now = this.#now();
    let refusal: Verdict;
    // Look at every bucket before charging any: a request refused by its tenant's limit must not
    // use up its key's (or the other way round).
    for (let i = 0; i < buckets.length; i++) {
      const b = buckets[i] as Bucket;
      const wait = this.#wait(b, now);
      if (wait > EPSILON_MS && (refusal === undefined || wait > refusal.waitMs)) refusal = { bucket: b, waitMs: wait };
    }
    if (refusal) return refusal;
    for (let i = 0; i < buckets.length; i++) this.#charge(buckets[i] as Bucket, now);
    return undefined;
  }

  peek(bucket: Bucket): Verdict {
    const wait = this.#wait(bucket, this.#now());
    return wait > EPSILON_MS ? { bucket, waitMs: wait } : undefined;
  }

  add(bucket: Bucket): void {
    this.#charge(bucket, this.#now());
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#tats.clear();
  }

  /** ms until the bucket admits one more request; 0 or less: now. */
  #wait(b: Bucket, now: number): number {
    const tat = this.#tats.get(b.key);
    const from = tat === undefined || tat < now ? now : tat;
    return from + b.intervalMs - b.toleranceMs - now;
  }

  #charge(b: Bucket, now: number): void {
    const tat = this.#tats.get(b.key);
    const from = tat === undefined || tat < now ? now : tat;
    const next = Math.min(from + b.intervalMs, now + b.toleranceMs);
    if (tat === undefined && this.#tats.size >= this.#max) this.#makeRoom(now);
    this.#tats.set(b.key, next);
  }

  #makeRoom(now: number): void {
    this.#sweep(now);
    // Still full of live buckets: drop the oldest inserted (Map keeps insertion order).
    for (const key of this.#tats.keys()) {
      if (this.#tats.size < this.#max) break;
      this.#tats.delete(key);
    }
  }

  #sweep(now: number): void {
    for (const [key, tat] of this.#tats) if (tat <= now) this.#tats.delete(key);
  }
}

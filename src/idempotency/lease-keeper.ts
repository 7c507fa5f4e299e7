// Keeps the leases of this process's in-flight idempotency records alive (SPEC §9: a dead owner is
// detected by its lease lapsing, so a live owner must renew it). One timer for all of them rather
// than one per request: a keyed POST then costs a Set insert and delete instead of an interval
// created and cleared, and the timer only runs while something is in flight.
import type { IdempotencyStore } from './store.js';

interface Held {
  readonly tenant: string;
  readonly key: string;
  readonly token: string;
}

export class LeaseKeeper {
  readonly #held = new Set<Held>();
  readonly #everyMs: number;
  #timer: NodeJS.Timeout | undefined;

  /**
   * Every lease is renewed for leaseMs at least every leaseMs / 3 (50 ms at least), so two renewals
   * can be missed or late before a live owner's lease lapses.
   */
  constructor(
    private readonly store: IdempotencyStore,
    private readonly leaseMs: number,
    private readonly onRenewError: () => void,
  ) {
    this.#everyMs = Math.max(50, Math.floor(leaseMs / 3));
  }

  /** Keeps renewing this claim's lease until the returned function is called. */
  hold(tenant: string, key: string, token: string): () => void {
    const held: Held = { tenant, key, token };
    this.#held.add(held);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#renewAll(), this.#everyMs);
      // In-flight requests keep the process alive themselves; this timer must not.
      this.#timer.unref();
    }
    return () => {
      this.#held.delete(held);
      if (this.#held.size === 0 && this.#timer !== undefined) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
    };
  }

  #renewAll(): void {
    // A claim made just before this tick is renewed early; harmless, and it keeps the bound simple.
    for (const { tenant, key, token } of this.#held) {
      this.store.renewLease(tenant, key, token, this.leaseMs).catch(this.onRenewError);
    }
  }
}

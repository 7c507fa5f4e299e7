// The idempotency store's health as /metrics and /readyz report it (SPEC §11 rev 2). A check pings the
// store, which settles within its own 1 s deadline; but a scrape or probe must not wait that long:
// Prometheus scraping every second times out at 1 s and would lose the whole scrape (every metric of
// the replica, `up` 0) exactly while the store is frozen. So a check waits briefly, and a ping still
// running after that reports the last known state; when it settles, the state (and the gauge) follow.
// At most one ping is in flight, however many scrapes and probes ask.
import type { IdempotencyStore } from './store.js';

/** How long a scrape or probe waits for the store before it reports the last known state. */
export const STORE_CHECK_WAIT_MS = 200;

export class StoreHealth {
  readonly #store: Pick<IdempotencyStore, 'ping'>;
  readonly #onState: (up: boolean) => void;
  #up = true;
  #pending: Promise<boolean> | undefined;

  constructor(store: Pick<IdempotencyStore, 'ping'>, onState: (up: boolean) => void) {
    this.#store = store;
    this.#onState = onState;
  }

  /** Whether the store is up: this check's answer if it comes within waitMs, else the last known state. */
  async check(waitMs = STORE_CHECK_WAIT_MS): Promise<boolean> {
    const ping = (this.#pending ??= this.#ping());
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(this.#up), waitMs);
    });
    try {
      return await Promise.race([ping, waited]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #ping(): Promise<boolean> {
    const up = await this.#store.ping().then(() => true, () => false);
    this.#up = up;
    this.#pending = undefined;
    this.#onState(up);
    return up;
  }
}

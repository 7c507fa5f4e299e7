// Store-loss detection (SPEC §9 rev 2). A Redis that restarts without persistence, is flushed or fails
// over to an empty replica has forgotten which keys executed, silently. So the store keeps a marker
// key, `ok:<epoch>` (on a Redis Cluster one per master, read as one: shard-markers.ts), polled every
// 250 ms. When it is gone the loss is reported (log, metric) and, with `onStoreLoss: refuse`, written
// back as `lost:<since>` so every replica (also one started later) refuses keyed requests until an
// operator acknowledges (a fresh `ok:` epoch) or the ttl has passed since the loss; with `continue` a
// fresh epoch is written at once. Needs one replica running across the loss: an empty Redis with no
// marker at start is taken for a new store. After every (re)connection claims wait until the marker was
// read on the new connection (within the store's deadline), so a Redis that came back empty is noticed
// before the first claim on it, not at the next poll.

/** The marker's three operations, each within the store's deadline (rejects when the store does not answer). */
export interface MarkerBackend {
  get(): Promise<string | null>;
  /** SET NX */
  create(value: string): Promise<void>;
  set(value: string): Promise<void>;
}

export interface MarkerOptions {
  readonly mode: 'refuse' | 'continue';
  /** after this long since the loss, refusing ends by itself (every record from before has expired) */
  readonly ttlMs: number;
  /** called once per loss this replica sees */
  readonly onLoss: (mode: 'refuse' | 'continue') => void;
  readonly pollMs?: number;
}

/** A new `ok:` marker value. */
export const freshEpoch = (): string => `ok:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;

export class StoreMarker {
  #state: 'unknown' | 'ok' | 'lost' = 'unknown';
  #epoch = '';
  #timer: NodeJS.Timeout | undefined;
  #polling = false;
  /** a poll was asked for while one was running: run another when it ends */
  #again = false;
  // Connections to the store, counted: a claim is sent only once the marker was read on the current one
  // and showed no loss. A Redis that restarted empty is new connection; the marker is read on it first.
  #connection = 0;
  #verifiedConnection = -1;
  readonly #whenVerified = new Set<() => void>();

  constructor(
    private readonly backend: MarkerBackend,
    private readonly options: MarkerOptions,
  ) {}

  /** Keyed requests are refused: a loss not acknowledged yet. */
  get refusing(): boolean {
    return this.#state === 'lost';
  }

  /** The marker was read on the current connection and showed no loss: a claim may be sent on it. */
  get verified(): boolean {
    return this.#verifiedConnection === this.#connection && this.#state === 'ok';
  }

  /** The store connection was (re)established: claims wait for the marker to be read on it. */
  reconnected(): void {
    this.#connection++;
    void this.poll();
  }

  /** Resolves true once verified, false after `timeoutMs` (the caller answers 503). */
  whenVerified(timeoutMs: number): Promise<boolean> {
    if (this.verified) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve(this.verified);
      };
      const timer = setTimeout(() => {
        this.#whenVerified.delete(done);
        resolve(false);
      }, Math.max(0, timeoutMs));
      this.#whenVerified.add(done);
    });
  }

  start(): void {
    this.#timer = setInterval(() => void this.poll(), this.options.pollMs ?? 250);
    this.#timer.unref();
    void this.poll();
  }

  close(): void {
    clearInterval(this.#timer);
  }

  /** The operator's acknowledgement: a fresh epoch; every replica resumes at its next poll. */
  async acknowledge(): Promise<void> {
    const connection = this.#connection;
    const epoch = freshEpoch();
    await this.backend.set(epoch);
    this.#adopt(epoch);
    if (connection === this.#connection) this.#verify(connection);
  }

  /** One look at the marker; a store that does not answer changes nothing (that is not a loss). */
  async poll(): Promise<void> {
    if (this.#polling) {
      this.#again = true;
      return;
    }
    this.#polling = true;
    try {
      do {
        this.#again = false;
        const connection = this.#connection;
        await this.#check(await this.backend.get());
        if (this.#state === 'ok' && connection === this.#connection) this.#verify(connection);
      } while (this.#again);
    } catch {
      // unreachable or slow: the requests themselves get 503 for that
    } finally {
      this.#polling = false;
    }
  }

  #verify(connection: number): void {
    this.#verifiedConnection = connection;
    const waiting = [...this.#whenVerified];
    this.#whenVerified.clear();
    for (const done of waiting) done();
  }

  async #check(value: string | null): Promise<void> {
    if (value === null) {
      if (this.#state === 'unknown') {
        await this.backend.create(freshEpoch());
        this.#again = true; // adopted at the next poll (at once), whichever replica's create won
        return;
      }
      if (this.#state === 'ok') return this.#lost(Date.now());
      return this.backend.set(`lost:${this.#lostSince()}`); // lost again while lost: keep refusing
    }
    if (value.startsWith('lost:')) {
      const since = Number(value.slice(5)) || Date.now();
      if (this.#state !== 'lost') this.options.onLoss(this.options.mode);
      if (this.options.mode === 'continue' || Date.now() - since >= this.options.ttlMs) return this.acknowledge();
      this.#state = 'lost';
      this.#epoch = value;
      return;
    }
    // A new epoch while this replica saw none lost: a loss it missed (a peer that continues at once).
    if (this.#state === 'ok' && value !== this.#epoch) this.options.onLoss(this.options.mode);
    this.#adopt(value);
  }

  async #lost(now: number): Promise<void> {
    this.options.onLoss(this.options.mode);
    if (this.options.mode === 'continue') return this.acknowledge();
    this.#state = 'lost';
    this.#epoch = `lost:${now}`;
    await this.backend.set(this.#epoch);
  }

  #lostSince(): number {
    return Number(this.#epoch.slice(5)) || Date.now();
  }

  #adopt(epoch: string): void {
    this.#state = 'ok';
    this.#epoch = epoch;
  }
}

// Claims the proxy gave up on (it answered 503) may still reach Redis late. Each one's undo, an
// owner-checked release, is kept here until Redis confirms it: re-sent every 250 ms and first thing when
// the connection is back, so a key is never burned by a claim nobody owns (SPEC §9 rev 2). Sending an
// undo twice, or after the record completed or expired, changes nothing; past the record's ttl it is dropped.

export interface Undo {
  readonly keys: [string, string];
  readonly token: string;
  readonly until: number;
}

/** How often unconfirmed undos are re-sent while Redis does not take them. */
const RETRY_MS = 250;

export class ClaimUndos {
  readonly #pending = new Map<string, Undo & { sending: boolean }>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  /** `send` runs one undo (rejects when Redis did not confirm it); `ready` says whether to try now. */
  constructor(
    private readonly send: (undo: Undo) => Promise<unknown>,
    private readonly ready: () => boolean,
  ) {}

  get size(): number {
    return this.#pending.size;
  }

  add(undo: Undo): void {
    this.#pending.set(undo.token, { ...undo, sending: false });
    this.flush();
  }

  /** Sends every unconfirmed undo, and re-arms itself while any is left. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#closed) return;
    const now = Date.now();
    for (const undo of this.#pending.values()) {
      if (undo.until <= now) this.#pending.delete(undo.token);
      else if (!undo.sending && this.ready()) {
        undo.sending = true;
        this.send(undo).then(
          () => this.#pending.delete(undo.token),
          () => (undo.sending = false),
        );
      }
    }
    if (this.#pending.size > 0) {
      this.#timer = setTimeout(() => this.flush(), RETRY_MS);
      this.#timer.unref();
    }
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }
}

// The in-flight exchanges, ordered by deadline. Every exchange has the same timeout, so deadlines grow
// in start order: the queue is a doubly linked list, oldest first, and one timer armed for the oldest
// serves them all (not a setTimeout per request). Entries carry their own links, so adding one
// allocates nothing. Raises nothing: an expired entry is handed to `expire`.

/** What an entry carries: its deadline (performance.now() time) and the queue's links. */
export interface Deadlined<T> {
  readonly deadline: number;
  prev: T | undefined;
  next: T | undefined;
  queued: boolean;
}

export class DeadlineQueue<T extends Deadlined<T>> {
  #head: T | undefined;
  #tail: T | undefined;
  #timer: NodeJS.Timeout | undefined;

  /** `expire` gets each entry whose deadline has passed, once, after it left the queue. */
  constructor(private readonly expire: (entry: T) => void) {}

  /** Appends an entry; its deadline must not be earlier than the last one's. */
  add(e: T): void {
    e.queued = true;
    e.prev = this.#tail;
    if (this.#tail) this.#tail.next = e;
    else this.#head = e;
    this.#tail = e;
    if (!this.#timer) this.#arm(e.deadline - performance.now());
  }

  /** Takes an entry out (it settled before its deadline); a no-op when it is not queued. */
  remove(e: T): void {
    if (!e.queued) return;
    e.queued = false;
    if (e.prev) e.prev.next = e.next;
    else this.#head = e.next;
    if (e.next) e.next.prev = e.prev;
    else this.#tail = e.prev;
    e.prev = undefined;
    e.next = undefined;
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(ms: number): void {
    // unref: an armed sweep alone never keeps the process up (the exchanges' sockets do that).
    this.#timer = setTimeout(() => this.#sweep(), Math.max(1, Math.ceil(ms)));
    this.#timer.unref();
  }

  #sweep(): void {
    this.#timer = undefined;
    const now = performance.now();
    for (let e = this.#head; e && e.deadline <= now; e = this.#head) {
      this.remove(e);
      this.expire(e);
    }
    if (this.#head) this.#arm(this.#head.deadline - now);
  }
}

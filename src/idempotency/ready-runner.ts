// Runs the Redis store's operations within the store's deadline (SPEC §9: 1 s), waiting for the
// connection itself rather than in ioredis' offline queue: an operation that missed its deadline is
// dropped, never sent later (a claim sent after its client was told 503 would leave a record nobody
// owns). Raises StoreUnavailableError for every failure; reports an operation that was sent and then
// failed, so the caller can undo what may have reached Redis.
import { StoreUnavailableError } from './store.js';

interface Waiter { start(): void; abort(err: StoreUnavailableError): void }

/** What the runner needs of the client: its connection status ('ready' when commands may be sent). */
export interface Connection { readonly status: string }

export class ReadyRunner {
  readonly #waiters = new Set<Waiter>();
  #closed = false;

  constructor(
    private readonly connection: Connection,
    readonly timeoutMs: number,
  ) {}

  /** The connection became ready: operations waiting for it are sent now. */
  ready(): void {
    for (const waiter of [...this.#waiters]) waiter.start();
  }

  /** The connection closed: operations waiting for it fail now instead of at their deadline. */
  closed(): void {
    const err = new StoreUnavailableError('idempotency store connection closed');
    for (const waiter of [...this.#waiters]) waiter.abort(err);
  }

  close(): void {
    this.#closed = true;
  }

  /**
   * Runs op once the connection is ready, settled by `deadline` (default: timeoutMs from now);
   * `onAbandoned` when op was sent but failed or answered too late.
   */
  run<T>(op: (deadline: number) => Promise<T>, onAbandoned?: () => void, deadline = Date.now() + this.timeoutMs): Promise<T> {
    const status = this.connection.status;
    if (this.#closed || status === 'reconnecting' || status === 'close' || status === 'end') {
      return Promise.reject(new StoreUnavailableError(`idempotency store is not connected (${this.#closed ? 'closed' : status})`));
    }
    return new Promise<T>((resolve, reject) => {
      let sent = false;
      let settled = false;
      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        this.#waiters.delete(waiter);
        return true;
      };
      const fail = (err: unknown): void => {
        if (!settle()) return;
        if (sent) onAbandoned?.();
        reject(unavailable(err));
      };
      const waiter: Waiter = {
        start: () => {
          this.#waiters.delete(waiter);
          sent = true;
          Promise.resolve(deadline).then(op).then((value) => settle() && resolve(value), fail);
        },
        abort: fail,
      };
      const timer = setTimeout(() => fail(new StoreUnavailableError(
        `idempotency store did not answer within ${this.timeoutMs}ms`)), Math.max(0, deadline - Date.now()));
      if (status === 'ready') waiter.start();
      else this.#waiters.add(waiter);
    });
  }
}

function unavailable(err: unknown): StoreUnavailableError {
  if (err instanceof StoreUnavailableError) return err;
  return new StoreUnavailableError(`idempotency store failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

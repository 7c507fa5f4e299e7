// In-process idempotency store (SPEC §9 `memory`): it protects one process only. Completed records
// live in an lru-cache bounded by entries and bytes; in-flight claims live in a plain Map and are never
// evicted, because dropping one would let a duplicate execute while the first is still running.
// Raises nothing: every method settles; the caller counts evictions through onEvict.
import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { fingerprintsEqual } from './fingerprint.js';
import { expiresAtOf, packRecord, sameFingerprint, unpackCompletion } from './memory-record.js';
import type {
  ClaimOptions, ClaimResult, Completion, Fingerprint, IdempotencyStore,
} from './store.js';

/** Which bound pushed a completed record out before its ttl. */
export type EvictionCause = 'entries' | 'bytes';

export interface MemoryStoreOptions {
  /** most completed records kept */
  readonly maxEntries: number;
  /** most bytes of completed records kept (bodies, headers and a fixed overhead per record) */
  readonly maxBytes: number;
  /** called once for every completed record evicted before its ttl */
  readonly onEvict?: (cause: EvictionCause) => void;
  /** how often in-flight records past their ttl are dropped; default 60 s */
  readonly sweepIntervalMs?: number;
}

interface InFlightRecord {
  readonly fingerprint: Fingerprint;
  readonly token: string;
  readonly expiresAt: number;
  leaseExpiresAt: number;
}

// Rough cost of a record's Buffer object and the cache's bookkeeping, on top of its packed bytes.
const RECORD_OVERHEAD_BYTES = 256;

export class MemoryStore implements IdempotencyStore {
  readonly kind = 'memory';
  readonly #inFlight = new Map<string, InFlightRecord>();
  readonly #completed: LRUCache<string, Buffer>;
  readonly #onEvict: ((cause: EvictionCause) => void) | undefined;
  readonly #sweeper: NodeJS.Timeout;
  // lru-cache does not say which bound evicted an entry; see #store for how this is inferred.
  #nextEvictCause: EvictionCause = 'bytes';

  constructor(options: MemoryStoreOptions) {
    const { maxEntries, maxBytes } = options;
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
    if (!Number.isSafeInteger(maxBytes) || maxBytes < RECORD_OVERHEAD_BYTES * 4) {
      throw new RangeError(`maxBytes must be an integer of at least ${RECORD_OVERHEAD_BYTES * 4}`);
    }
    this.#onEvict = options.onEvict;
    this.#completed = new LRUCache<string, Buffer>({
      max: maxEntries,
      maxSize: maxBytes,
      sizeCalculation: recordSize,
      dispose: (record, _id, reason) => {
        // 'set' and 'delete' are our own replacements, 'expire' is the ttl doing its job: only a
        // capacity eviction of a still-live record can let a duplicate execute again.
        if (reason !== 'evict') return;
        const cause = this.#nextEvictCause;
        this.#nextEvictCause = 'bytes';
        if (expiresAtOf(record) > Date.now()) this.#onEvict?.(cause);
      },
    });
    this.#sweeper = setInterval(() => this.#sweep(), options.sweepIntervalMs ?? 60_000);
    this.#sweeper.unref();
  }

  /** Counts for tests and diagnostics. */
  get size(): { readonly inFlight: number; readonly completed: number; readonly completedBytes: number } {
    return { inFlight: this.#inFlight.size, completed: this.#completed.size, completedBytes: this.#completed.calculatedSize };
  }

  async claim(tenant: string, key: string, fingerprint: Fingerprint, options: ClaimOptions): Promise<ClaimResult> {
    const id = recordId(tenant, key);
    const now = Date.now();
    const flying = this.#liveInFlight(id, now);
    if (flying) {
      if (!fingerprintsEqual(flying.fingerprint, fingerprint)) return { kind: 'conflict' };
      return flying.leaseExpiresAt > now ? { kind: 'in_progress' } : { kind: 'owner_lost' };
    }
    const done = this.#liveCompleted(id, now);
    if (done) {
      if (!sameFingerprint(done, fingerprint)) return { kind: 'conflict' };
      return { kind: 'completed', completion: unpackCompletion(done) };
    }
    const token = randomUUID();
    this.#inFlight.set(id, {
      fingerprint: { method: fingerprint.method, target: fingerprint.target, bodySha256: fingerprint.bodySha256 },
      token,
      expiresAt: now + Math.max(1, options.ttlMs),
      leaseExpiresAt: now + Math.max(1, options.leaseMs),
    });
    return { kind: 'claimed', token };
  }

  async renewLease(tenant: string, key: string, token: string, leaseMs: number): Promise<boolean> {
    const now = Date.now();
    const flying = this.#liveInFlight(recordId(tenant, key), now);
    // A lapsed lease is not revived: duplicates may already have been told the owner is lost.
    if (!flying || flying.token !== token || flying.leaseExpiresAt <= now) return false;
    flying.leaseExpiresAt = now + Math.max(1, leaseMs);
    return true;
  }

  async complete(tenant: string, key: string, token: string, completion: Completion): Promise<boolean> {
    const id = recordId(tenant, key);
    const now = Date.now();
    const flying = this.#liveInFlight(id, now);
    if (!flying || flying.token !== token) return false;
    this.#inFlight.delete(id);
    this.#store(id, flying, completion, now);
    return true;
  }

  async release(tenant: string, key: string, token: string): Promise<boolean> {
    const id = recordId(tenant, key);
    const flying = this.#liveInFlight(id, Date.now());
    if (!flying || flying.token !== token) return false;
    this.#inFlight.delete(id);
    return true;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#inFlight.clear();
    this.#completed.clear();
  }

  #store(id: string, flying: InFlightRecord, completion: Completion, now: number): void {
    const { fingerprint, expiresAt } = flying;
    // A response bigger than the whole cache would be refused by lru-cache and the key would become
    // new again (a second execution). Keep the record as "response unavailable" instead: duplicates
    // get 409 and the upstream is not called twice, as for a response over maxResponseBytes.
    let value = packRecord(fingerprint, expiresAt, completion);
    if (recordSize(value) > this.#completed.maxSize) {
      value = packRecord(fingerprint, expiresAt, { kind: 'response_unavailable' });
    }
    // lru-cache evicts for the entry count first (only when full), then for bytes.
    this.#nextEvictCause = this.#completed.size >= this.#completed.max ? 'entries' : 'bytes';
    const status: LRUCache.Status<string, Buffer> = {};
    this.#completed.set(id, value, { ttl: Math.max(1, Math.ceil(expiresAt - now)), status });
    this.#nextEvictCause = 'bytes';
    if (status.maxEntrySizeExceeded) this.#onEvict?.('bytes');
  }

  #liveInFlight(id: string, now: number): InFlightRecord | undefined {
    const record = this.#inFlight.get(id);
    if (record && record.expiresAt <= now) {
      this.#inFlight.delete(id);
      return undefined;
    }
    return record;
  }

  #liveCompleted(id: string, now: number): Buffer | undefined {
    const record = this.#completed.get(id);
    // lru-cache keeps its own clock; the record's wall-clock expiry is the one the contract promises.
    if (record && expiresAtOf(record) <= now) {
      this.#completed.delete(id);
      return undefined;
    }
    return record;
  }

  #sweep(): void {
    const now = Date.now();
    for (const [id, record] of this.#inFlight) if (record.expiresAt <= now) this.#inFlight.delete(id);
    this.#completed.purgeStale();
  }
}

// NUL cannot occur in a tenant id or a parsed key, so two tenants' keys never collide.
function recordId(tenant: string, key: string): string {
  return `${tenant}\0${key}`;
}

function recordSize(record: Buffer): number {
  return RECORD_OVERHEAD_BYTES + record.length;
}

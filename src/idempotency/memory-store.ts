// In-process idempotency store (SPEC §9 `memory`): it protects one process only. Completed records
// live in per-tenant lru-caches bounded by entries and bytes, each tenant within its share (see
// tenant-shares.ts); in-flight claims live in a plain Map and are never evicted, because dropping one
// would let a duplicate execute while the first is still running.
// Raises nothing: every method settles; the caller counts evictions through onEvict.
import { randomUUID } from 'node:crypto';
import { fingerprintsEqual } from './fingerprint.js';
import { encodedLength, expiresAtOf, sameFingerprint, unpackCompletion, writeRecord } from './memory-record.js';
import { RecordArena } from './record-arena.js';
import { RECORD_OVERHEAD_BYTES, TenantShares, recordCharge, type EvictionCause } from './tenant-shares.js';
import type {
  ClaimOptions, ClaimResult, Completion, Fingerprint, IdempotencyStore,
} from './store.js';

export type { EvictionCause } from './tenant-shares.js';

export interface MemoryStoreOptions {
  /** most completed records kept */
  readonly maxEntries: number;
  /** most bytes of completed records kept: what they cost in memory (see recordCharge) */
  readonly maxBytes: number;
  /** fewest records (and minTenantShare × maxBytes / maxEntries bytes) a tenant may keep; default 1000 */
  readonly minTenantShare?: number;
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

export class MemoryStore implements IdempotencyStore {
  readonly kind = 'memory';
  readonly #inFlight = new Map<string, InFlightRecord>();
  /** requests stored as UPSTREAM_TIMEOUT, by record id: their owner may still store a late answer */
  readonly #timedOut = new Map<string, InFlightRecord>();
  readonly #arena = new RecordArena();
  readonly #completed: TenantShares;
  readonly #onEvict: ((cause: EvictionCause) => void) | undefined;
  readonly #sweeper: NodeJS.Timeout;

  constructor(options: MemoryStoreOptions) {
    const { maxEntries, maxBytes, minTenantShare = 1000 } = options;
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
    if (!Number.isSafeInteger(maxBytes) || maxBytes < RECORD_OVERHEAD_BYTES * 4) {
      throw new RangeError(`maxBytes must be an integer of at least ${RECORD_OVERHEAD_BYTES * 4}`);
    }
    if (!Number.isSafeInteger(minTenantShare) || minTenantShare < 1) throw new RangeError('minTenantShare must be a positive integer');
    this.#onEvict = options.onEvict;
    this.#completed = new TenantShares({ maxEntries, maxBytes, minTenantShare }, this.#arena, this.#onEvict);
    this.#sweeper = setInterval(() => this.#sweep(), options.sweepIntervalMs ?? 60_000);
    this.#sweeper.unref();
  }

  /** Counts for tests and diagnostics. */
  get size(): { readonly inFlight: number; readonly completed: number; readonly completedBytes: number } {
    return { inFlight: this.#inFlight.size, completed: this.#completed.entries, completedBytes: this.#completed.bytes };
  }

  async claim(tenant: string, key: string, fingerprint: Fingerprint, options: ClaimOptions): Promise<ClaimResult> {
    const id = recordId(tenant, key);
    const now = Date.now();
    const flying = this.#liveInFlight(id, now);
    if (flying) {
      if (!fingerprintsEqual(flying.fingerprint, fingerprint)) return { kind: 'conflict' };
      return flying.leaseExpiresAt > now ? { kind: 'in_progress' } : { kind: 'owner_lost' };
    }
    const done = this.#liveCompleted(tenant, key, now);
    if (done !== undefined) {
      const arena = this.#arena;
      if (!sameFingerprint(arena.buffer(done), arena.start(done), fingerprint)) return { kind: 'conflict' };
      return { kind: 'completed', completion: unpackCompletion(arena.buffer(done), arena.start(done), arena.length(done)) };
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
    this.#store(tenant, key, flying, completion, now);
    if (completion.kind === 'outcome_unknown' && completion.code === 'UPSTREAM_TIMEOUT') this.#timedOut.set(id, flying);
    else this.#timedOut.delete(id);
    return true;
  }

  async completeLate(tenant: string, key: string, token: string, completion: Completion | undefined): Promise<boolean> {
    const id = recordId(tenant, key);
    const now = Date.now();
    const owner = this.#liveInFlight(id, now) ?? this.#timedOut.get(id);
    if (!owner || owner.token !== token || owner.expiresAt <= now) return false;
    if (!this.#inFlight.delete(id)) {
      // the timeout record may have been evicted meanwhile: then there is nothing left to correct
      if (this.#liveCompleted(tenant, key, now) === undefined) return false;
      this.#completed.delete(tenant, key);
    }
    this.#timedOut.delete(id);
    if (completion) this.#store(tenant, key, owner, completion, now);
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

  /** Nothing to acknowledge: this store is lost only with its process, and the process knows. */
  async ackLoss(): Promise<boolean> {
    return false;
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#inFlight.clear();
    this.#timedOut.clear();
    this.#completed.clear();
  }

  #store(tenant: string, key: string, flying: InFlightRecord, completion: Completion, now: number): void {
    const { fingerprint, expiresAt } = flying;
    // A response bigger than the tenant's byte share could not be kept without evicting it at once,
    // and the key would become new again (a second execution). Keep the record as "response
    // unavailable" instead: duplicates get 409 and the upstream is not called twice, as for a response
    // over maxResponseBytes.
    let kept = completion;
    let length = encodedLength(fingerprint, kept);
    if (recordCharge(length, key) > this.#completed.byteShare(tenant)) {
      kept = { kind: 'response_unavailable' };
      length = encodedLength(fingerprint, kept);
    }
    const slot = this.#arena.alloc(length);
    writeRecord(this.#arena.buffer(slot), this.#arena.start(slot), fingerprint, expiresAt, kept);
    // Refused only if even that is bigger than the whole cache (a target of many KiB with a tiny maxBytes).
    const ttl = Math.max(1, Math.ceil(expiresAt - now));
    if (!this.#completed.set(tenant, key, slot, recordCharge(length, key), ttl)) this.#onEvict?.('bytes');
  }

  #liveInFlight(id: string, now: number): InFlightRecord | undefined {
    const record = this.#inFlight.get(id);
    if (record && record.expiresAt <= now) {
      this.#inFlight.delete(id);
      return undefined;
    }
    return record;
  }

  /** The record's slot in the arena. */
  #liveCompleted(tenant: string, key: string, now: number): number | undefined {
    const slot = this.#completed.get(tenant, key);
    // lru-cache keeps its own clock; the record's wall-clock expiry is the one the contract promises.
    if (slot !== undefined && expiresAtOf(this.#arena.buffer(slot), this.#arena.start(slot)) <= now) {
      this.#completed.delete(tenant, key);
      return undefined;
    }
    return slot;
  }

  #sweep(): void {
    const now = Date.now();
    for (const [id, record] of this.#inFlight) if (record.expiresAt <= now) this.#inFlight.delete(id);
    for (const [id, record] of this.#timedOut) if (record.expiresAt <= now) this.#timedOut.delete(id);
    this.#completed.purgeStale();
  }
}

// NUL cannot occur in a tenant id or a parsed key, so two tenants' keys never collide.
function recordId(tenant: string, key: string): string {
  return `${tenant}\0${key}`;
}

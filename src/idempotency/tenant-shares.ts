// The memory store's completed records, one lru-cache per tenant, so that one tenant's traffic never
// evicts another tenant's records (SPEC §9, rev 2). Each tenant with records gets an equal share of the
// entry and byte bounds, never below `minTenantShare` entries nor minTenantShare × maxBytes / maxEntries
// bytes (the byte floor gives those entries the average record size the bounds allow) and never above
// the bounds themselves; a tenant at its share evicts its own least recently used records.
import { LRUCache } from 'lru-cache';
import { expiresAtOf } from './memory-record.js';
import { DEAD_FRACTION, RECORD_HEADER_BYTES, type RecordArena } from './record-arena.js';

/** Which bound pushed a completed record out before its ttl. */
export type EvictionCause = 'entries' | 'bytes';

export interface ShareBounds {
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly minTenantShare: number;
}

// What a completed record costs beyond its encoded bytes and its key's characters, all on the JS heap:
// its entry in lru-cache (a Map entry and seven array elements, with the slack of arrays that grow), its
// slot in the arena's tables and the key string's header. bench/memory.ts measures the heap per record
// (about 165 bytes with a 36-character key, so about 130 besides the key) and checks that RSS grows by no
// more than what is charged; the margin covers arrays just grown by half.
export const RECORD_OVERHEAD_BYTES = 160;

/**
 * The bytes a record is charged against maxBytes: its bytes in a slab (header included), the slack the
 * arena may leave between compactions (DEAD_FRACTION of live bytes), its key and the fixed overhead.
 */
export function recordCharge(encodedLength: number, key: string): number {
  const inSlab = RECORD_HEADER_BYTES + encodedLength;
  return inSlab + Math.ceil(inSlab * DEAD_FRACTION) + key.length + RECORD_OVERHEAD_BYTES;
}

// Values are the records' slots in the arena: small integers, which lru-cache stores without allocating.
type TenantCache = LRUCache<string, number>;

export class TenantShares {
  readonly #bounds: ShareBounds;
  readonly #arena: RecordArena;
  readonly #onEvict: ((cause: EvictionCause) => void) | undefined;
  // Only tenants that hold records: its size is the "tenants with records" the shares divide by.
  readonly #tenants = new Map<string, TenantCache>();
  // Totals over all tenants, kept by #track, so the global bounds are checked without a scan.
  #entries = 0;
  #bytes = 0;
  // lru-cache's dispose does not say why an entry was popped; #pop sets this just before.
  #cause: EvictionCause = 'bytes';

  constructor(bounds: ShareBounds, arena: RecordArena, onEvict: ((cause: EvictionCause) => void) | undefined) {
    this.#bounds = bounds;
    this.#arena = arena;
    this.#onEvict = onEvict;
  }

  get entries(): number {
    return this.#entries;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Most records `tenant` may keep, counting it among the tenants with records. */
  entryShare(tenant: string): number {
    const { maxEntries, minTenantShare } = this.#bounds;
    return Math.min(maxEntries, Math.max(minTenantShare, Math.floor(maxEntries / this.#tenantsWith(tenant))));
  }

  /** Most bytes `tenant` may keep; a single record bigger than this cannot be kept whole. */
  byteShare(tenant: string): number {
    const { maxEntries, maxBytes, minTenantShare } = this.#bounds;
    const floor = Math.floor((minTenantShare * maxBytes) / maxEntries);
    return Math.min(maxBytes, Math.max(floor, Math.floor(maxBytes / this.#tenantsWith(tenant))));
  }

  /** The record's slot in the arena. */
  get(tenant: string, key: string): number | undefined {
    const cache = this.#tenants.get(tenant);
    return cache && this.#track(tenant, cache, (c) => c.get(key));
  }

  delete(tenant: string, key: string): void {
    const cache = this.#tenants.get(tenant);
    if (cache) this.#track(tenant, cache, (c) => c.delete(key));
  }

  /**
   * Stores a record: first within the tenant's own share, evicting its oldest records, then within the
   * global bounds. False when lru-cache refused the record as bigger than the whole cache; the slot is
   * then freed. `size` is the record's recordCharge().
   */
  set(tenant: string, key: string, slot: number, size: number, ttlMs: number): boolean {
    const entryShare = this.entryShare(tenant);
    const byteShare = this.byteShare(tenant);
    const cache = this.#tenants.get(tenant) ?? this.#newCache();
    while (cache.size > 0 && (cache.size >= entryShare || cache.calculatedSize + size > byteShare)) {
      this.#pop(tenant, cache, cache.size >= entryShare ? 'entries' : 'bytes');
    }
    // Added (or put back, if the loop emptied and dropped it) before the record: it now holds one.
    this.#tenants.set(tenant, cache);
    const status: LRUCache.Status<string, number> = {};
    this.#track(tenant, cache, (c) => c.set(key, slot, { ttl: ttlMs, size, status }));
    // Shares add up to more than the bounds when their floors do (minTenantShare × tenants > maxEntries),
    // and for a while after a new tenant shrinks the others' shares. The bounds are what keep the
    // process's memory safe, so the tenant holding the most gives up its oldest record.
    while (this.#entries > this.#bounds.maxEntries && this.#popLargest('entries'));
    while (this.#bytes > this.#bounds.maxBytes && this.#popLargest('bytes'));
    if (status.maxEntrySizeExceeded !== true) return true;
    this.#arena.free(slot);
    return false;
  }

  /** Drops records past their ttl, and the caches of tenants left with none. */
  purgeStale(): void {
    for (const [tenant, cache] of this.#tenants) this.#track(tenant, cache, (c) => c.purgeStale());
  }

  clear(): void {
    for (const cache of this.#tenants.values()) cache.clear();
    this.#tenants.clear();
    this.#arena.clear();
    this.#entries = 0;
    this.#bytes = 0;
  }

  #tenantsWith(tenant: string): number {
    return this.#tenants.size + (this.#tenants.has(tenant) ? 0 : 1);
  }

  #newCache(): TenantCache {
    // No `max`: lru-cache preallocates arrays of that length for every cache, megabytes per tenant.
    // The shares are enforced above with pop(); maxSize is only a safety bound.
    return new LRUCache<string, number>({
      maxSize: this.#bounds.maxBytes,
      dispose: (slot, _key, reason) => {
        // 'set' and 'delete' are our own replacements, 'expire' is the ttl doing its job: only a
        // capacity eviction of a still-live record can let a duplicate execute again.
        const arena = this.#arena;
        if (reason === 'evict' && expiresAtOf(arena.buffer(slot), arena.start(slot)) > Date.now()) this.#onEvict?.(this.#cause);
        arena.free(slot);
      },
    });
  }

  #pop(tenant: string, cache: TenantCache, cause: EvictionCause): void {
    this.#cause = cause;
    this.#track(tenant, cache, (c) => c.pop());
    this.#cause = 'bytes';
  }

  /** False only if no tenant holds anything (the totals are then at 0, so the loops above end anyway). */
  #popLargest(cause: EvictionCause): boolean {
    let largest: [string, TenantCache] | undefined;
    let most = 0;
    for (const entry of this.#tenants) {
      const held = cause === 'entries' ? entry[1].size : entry[1].calculatedSize;
      if (held > most) [largest, most] = [entry, held];
    }
    if (!largest) return false;
    this.#pop(largest[0], largest[1], cause);
    return true;
  }

  // Every operation on a tenant's cache goes through here, so the totals follow whatever lru-cache
  // added or removed (evictions, replacements, stale entries dropped on get) and empty caches go.
  #track<R>(tenant: string, cache: TenantCache, op: (c: TenantCache) => R): R {
    const entries = cache.size;
    const bytes = cache.calculatedSize;
    try {
      return op(cache);
    } finally {
      this.#entries += cache.size - entries;
      this.#bytes += cache.calculatedSize - bytes;
      if (cache.size === 0 && this.#tenants.get(tenant) === cache) this.#tenants.delete(tenant);
    }
  }
}

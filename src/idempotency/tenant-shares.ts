// The memory store's completed records, one lru-cache per tenant, so that one tenant's traffic never
// evicts another tenant's records (SPEC §9, rev 2). Each tenant with records gets an equal share of the
// entry and byte bounds, never below `minTenantShare` entries nor minTenantShare × maxBytes / maxEntries
// bytes (the byte floor gives those entries the average record size the bounds allow) and never above
// the bounds themselves; a tenant at its share evicts its own least recently used records.
import { LRUCache } from 'lru-cache';
import { expiresAtOf } from './memory-record.js';

/** Which bound pushed a completed record out before its ttl. */
export type EvictionCause = 'entries' | 'bytes';

export interface ShareBounds {
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly minTenantShare: number;
}

// Rough cost of a record's Buffer object and the cache's bookkeeping, on top of its packed bytes.
export const RECORD_OVERHEAD_BYTES = 256;

export function recordSize(record: Buffer): number {
  return RECORD_OVERHEAD_BYTES + record.length;
}

type TenantCache = LRUCache<string, Buffer>;

export class TenantShares {
  readonly #bounds: ShareBounds;
  readonly #onEvict: ((cause: EvictionCause) => void) | undefined;
  // Only tenants that hold records: its size is the "tenants with records" the shares divide by.
  readonly #tenants = new Map<string, TenantCache>();
  // Totals over all tenants, kept by #track, so the global bounds are checked without a scan.
  #entries = 0;
  #bytes = 0;
  // lru-cache's dispose does not say why an entry was popped; #pop sets this just before.
  #cause: EvictionCause = 'bytes';

  constructor(bounds: ShareBounds, onEvict: ((cause: EvictionCause) => void) | undefined) {
    this.#bounds = bounds;
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

  get(tenant: string, key: string): Buffer | undefined {
    const cache = this.#tenants.get(tenant);
    return cache && this.#track(tenant, cache, (c) => c.get(key));
  }

  delete(tenant: string, key: string): void {
    const cache = this.#tenants.get(tenant);
    if (cache) this.#track(tenant, cache, (c) => c.delete(key));
  }

  /**
   * Stores a record: first within the tenant's own share, evicting its oldest records, then within the
   * global bounds. False when lru-cache refused the record as bigger than the whole cache.
   */
  set(tenant: string, key: string, record: Buffer, ttlMs: number): boolean {
    const size = recordSize(record);
    const entryShare = this.entryShare(tenant);
    const byteShare = this.byteShare(tenant);
    const cache = this.#tenants.get(tenant) ?? this.#newCache();
    while (cache.size > 0 && (cache.size >= entryShare || cache.calculatedSize + size > byteShare)) {
      this.#pop(tenant, cache, cache.size >= entryShare ? 'entries' : 'bytes');
    }
    // Added (or put back, if the loop emptied and dropped it) before the record: it now holds one.
    this.#tenants.set(tenant, cache);
    const status: LRUCache.Status<string, Buffer> = {};
    this.#track(tenant, cache, (c) => c.set(key, record, { ttl: ttlMs, status }));
    // Shares add up to more than the bounds when their floors do (minTenantShare × tenants > maxEntries),
    // and for a while after a new tenant shrinks the others' shares. The bounds are what keep the
    // process's memory safe, so the tenant holding the most gives up its oldest record.
    while (this.#entries > this.#bounds.maxEntries && this.#popLargest('entries'));
    while (this.#bytes > this.#bounds.maxBytes && this.#popLargest('bytes'));
    return status.maxEntrySizeExceeded !== true;
  }

  /** Drops records past their ttl, and the caches of tenants left with none. */
  purgeStale(): void {
    for (const [tenant, cache] of this.#tenants) this.#track(tenant, cache, (c) => c.purgeStale());
  }

  clear(): void {
    for (const cache of this.#tenants.values()) cache.clear();
    this.#tenants.clear();
    this.#entries = 0;
    this.#bytes = 0;
  }

  #tenantsWith(tenant: string): number {
    return this.#tenants.size + (this.#tenants.has(tenant) ? 0 : 1);
  }

  #newCache(): TenantCache {
    // No `max`: lru-cache preallocates arrays of that length for every cache, megabytes per tenant.
    // The shares are enforced above with pop(); maxSize is only a safety bound.
    return new LRUCache<string, Buffer>({
      maxSize: this.#bounds.maxBytes,
      sizeCalculation: recordSize,
      dispose: (record, _key, reason) => {
        // 'set' and 'delete' are our own replacements, 'expire' is the ttl doing its job: only a
        // capacity eviction of a still-live record can let a duplicate execute again.
        if (reason === 'evict' && expiresAtOf(record) > Date.now()) this.#onEvict?.(this.#cause);
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

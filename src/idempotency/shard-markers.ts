// Store-loss markers for Redis Cluster (SPEC §9 rev 2, store-marker.ts). Each master holds a share of
// the records, and a master that restarts empty (or fails over to an empty replica) forgets only its
// share: one marker key, on one master, would not notice. So every master of the current slot map has
// a marker, `<keyPrefix>marker:{<tag>}`, the tag hashing to that master's lowest slot, and this backend
// reads them all and gives StoreMarker one value:
//  - `lost:` on any master wins (the latest): one shard's loss refuses keyed requests on every shard
//    until acknowledged. A retry may land on any shard, and which keys were lost is not known;
//  - a marker this process has read or written and that is gone now is a loss (null);
//  - a marker never seen (a new master, or one whose lowest slot changed in a resharding) is created
//    with the current epoch, not a loss: keys move with their slots, so a marker that existed is found
//    wherever its slot went. Not in this process's first second of reading, though: to a replica just
//    started, a master that lost its data this instant looks the same as a new one, and re-creating
//    its marker would hide the loss from the replicas that did see it; they poll every 250 ms and
//    re-read when a master's connection ends, so the loss is theirs to report first;
//  - else the greatest `ok:` epoch: replicas starting at once may each win some markers' SET NX, and
//    every replica must take the same epoch from the same markers.
// create and set write every master's marker.
import calculateSlot from 'cluster-key-slot';
import type { MarkerBackend } from './store-marker.js';

/** One marker key's operations on the Cluster (routed by the key's slot). */
export interface KeyOps {
  get(key: string): Promise<string | null>;
  /** SET NX */
  create(key: string, value: string): Promise<void>;
  set(key: string, value: string): Promise<void>;
}

const SLOTS = 16384;

/** One slot per master in the slot map (ioredis Cluster#slots: per slot its node keys, master first): its lowest. */
export function lowestSlots(slots: ReadonlyArray<readonly string[] | undefined>): number[] {
  const masters = new Set<string>();
  const out: number[] = [];
  for (let slot = 0; slot < Math.min(slots.length, SLOTS); slot++) {
    const master = slots[slot]?.[0];
    if (master === undefined || masters.has(master)) continue;
    masters.add(master);
    out.push(slot);
  }
  return out;
}

/**
 * A hash tag for each slot, found lazily (`m0`, `m1`, … until the slot asked for has one) and kept:
 * most slots are never asked for, and m0…m147975 cover all 16384, so the search always ends.
 */
export class SlotTags {
  readonly #bySlot = new Map<number, string>();
  #next = 0;

  tag(slot: number): string {
    if (!Number.isInteger(slot) || slot < 0 || slot >= SLOTS) throw new RangeError(`not a Cluster slot: ${slot}`);
    let found = this.#bySlot.get(slot);
    while (found === undefined) {
      const tag = `m${this.#next++}`;
      const at = calculateSlot(tag);
      if (!this.#bySlot.has(at)) this.#bySlot.set(at, tag);
      if (at === slot) found = tag;
    }
    return found;
  }
}

/** How long a process reads the markers before it creates one it never saw (see above). */
export const CREATE_UNSEEN_AFTER_MS = 1000;

export class ShardMarkers implements MarkerBackend {
  /** markers this process has read or written: gone now means lost */
  readonly #seen = new Set<string>();
  readonly #tags = new SlotTags();
  #firstRead: number | undefined;

  constructor(
    private readonly keyPrefix: string,
    /** the current masters' lowest slots (read at every operation: the slot map changes) */
    private readonly masterSlots: () => readonly number[],
    private readonly ops: KeyOps,
    private readonly clock: { readonly createUnseenAfterMs: number; now(): number } = { createUnseenAfterMs: CREATE_UNSEEN_AFTER_MS, now: Date.now },
  ) {}

  /** The marker key on the master owning `slot`. */
  keyFor(slot: number): string {
    return `${this.keyPrefix}marker:{${this.#tags.tag(slot)}}`;
  }

  async get(): Promise<string | null> {
    const keys = this.#keys();
    const now = this.clock.now();
    this.#firstRead ??= now;
    const values = await Promise.all(keys.map((key) => this.ops.get(key)));
    const absent = keys.filter((_, i) => values[i] === null);
    const present = values.filter((v): v is string => v !== null);
    const gone = absent.some((key) => this.#seen.has(key));
    keys.forEach((key, i) => values[i] !== null && this.#seen.add(key));
    const lost = present.filter((v) => v.startsWith('lost:'));
    if (lost.length > 0) return lost.reduce((a, b) => (since(b) > since(a) ? b : a));
    if (gone) return null;
    // nothing anywhere: a new store (StoreMarker creates the markers) or every master lost at once
    if (present.length === 0) return null;
    const epoch = present.reduce((a, b) => (b > a ? b : a));
    if (now - this.#firstRead >= this.clock.createUnseenAfterMs) await this.#each(absent, (key) => this.ops.create(key, epoch));
    return epoch;
  }

  async create(value: string): Promise<void> {
    await this.#each(this.#keys(), (key) => this.ops.create(key, value));
  }

  async set(value: string): Promise<void> {
    await this.#each(this.#keys(), (key) => this.ops.set(key, value));
  }

  #keys(): string[] {
    const slots = this.masterSlots();
    // No slot map (not connected yet): an error, which StoreMarker takes for a store not answering.
    if (slots.length === 0) throw new Error('idempotency store: the Cluster slot map is empty');
    return slots.map((slot) => this.keyFor(slot));
  }

  /** Writes every key at once; a key written is seen, also when another write failed. */
  async #each(keys: readonly string[], write: (key: string) => Promise<void>): Promise<void> {
    await Promise.all(keys.map(async (key) => {
      await write(key);
      this.#seen.add(key);
    }));
  }
}

function since(lost: string): number {
  return Number(lost.slice(5)) || 0;
}

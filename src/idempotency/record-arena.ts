// Where the memory store's completed records live: packed one after another in 1 MiB slabs, each record
// named by a slot number (a small integer, which lru-cache keeps without allocating). A Buffer per record
// cost about 430 bytes beyond its bytes (its JS objects, V8's backing-store bookkeeping and a malloc
// chunk); in a slab a record costs its 8-byte header. Each record starts with that header (u32 slot,
// u32 length, little-endian), so a slab can be walked to move its live records elsewhere.
//
// Space of dead records comes back when a slab empties (records mostly die in the order they were
// stored: ttl and least-recently-used) or by compaction: when dead space passes DEAD_SLABS slabs plus
// DEAD_FRACTION of the live bytes, the emptiest slab's live records are copied to the newest and it is
// dropped. So the slabs never hold more than live × (1 + DEAD_FRACTION) + (DEAD_SLABS + 1) slabs: the
// store charges each record its share of the first term, and the slabs are part of the process's baseline.
// A record bigger than a quarter slab gets a slab of its own, freed with it.
//
// Emptied slabs are kept (up to DEAD_SLABS) and reused rather than freed: glibc's malloc serves a 1 MiB
// block by mmap only until one is freed, then raises its threshold and serves later ones from its heap,
// whose freed blocks stay resident. Freeing and allocating slabs under churn grew RSS 40 MB beyond a
// 64 MiB store (measured with bench/memory.ts); reuse keeps malloc out of the loop.

export const SLAB_BYTES = 1 << 20;
export const RECORD_HEADER_BYTES = 8;
/** dead space tolerated before compacting: this many whole slabs plus this fraction of the live bytes */
export const DEAD_SLABS = 2;
export const DEAD_FRACTION = 1 / 16;
const OWN_SLAB_OVER = SLAB_BYTES / 4;

interface Slab {
  readonly buf: Buffer;
  /** bytes written so far; records are appended at `used` */
  used: number;
  /** bytes (headers included) of the records still live in it */
  live: number;
}

export class RecordArena {
  readonly #slabs: Array<Slab | undefined> = [];
  readonly #freeSlabIds: number[] = [];
  /** emptied SLAB_BYTES buffers kept for reuse, counted in capacity */
  readonly #spares: Buffer[] = [];
  #current = -1;
  // Per slot: slab id, start of the record's bytes (after its header), length. -1: a free slot.
  #slabOf = new Int32Array(1024).fill(-1);
  #startOf = new Uint32Array(1024);
  #lengthOf = new Uint32Array(1024);
  readonly #freeSlots: number[] = [];
  #slotsUsed = 0;
  #capacity = 0;
  #live = 0;

  /** Bytes of all slabs held (what the arena costs in memory, outside the JS heap). */
  get capacity(): number {
    return this.#capacity;
  }

  /** Bytes of live records, headers included. */
  get live(): number {
    return this.#live;
  }

  /** A slot for `length` bytes, written through buffer(slot) from start(slot). */
  alloc(length: number): number {
    this.#compactIfNeeded();
    const slot = this.#newSlot();
    const [id, at] = this.#place(RECORD_HEADER_BYTES + length);
    this.#setSlot(slot, id, at, length);
    return slot;
  }

  buffer(slot: number): Buffer {
    return (this.#slabs[this.#slabOf[slot] as number] as Slab).buf;
  }

  start(slot: number): number {
    return this.#startOf[slot] as number;
  }

  length(slot: number): number {
    return this.#lengthOf[slot] as number;
  }

  free(slot: number): void {
    const id = this.#slabOf[slot] as number;
    const slab = this.#slabs[id];
    if (id < 0 || !slab) return;
    const size = RECORD_HEADER_BYTES + (this.#lengthOf[slot] as number);
    slab.live -= size;
    this.#live -= size;
    this.#slabOf[slot] = -1;
    this.#freeSlots.push(slot);
    if (slab.live === 0 && id !== this.#current) this.#dropSlab(id);
  }

  clear(): void {
    this.#slabs.length = 0;
    this.#freeSlabIds.length = 0;
    this.#spares.length = 0;
    this.#current = -1;
    this.#slabOf = new Int32Array(1024).fill(-1);
    this.#startOf = new Uint32Array(1024);
    this.#lengthOf = new Uint32Array(1024);
    this.#freeSlots.length = 0;
    this.#slotsUsed = 0;
    this.#capacity = 0;
    this.#live = 0;
  }

  /** Reserves `size` bytes (header included): [slab id, where the record's bytes start]. */
  #place(size: number): [number, number] {
    if (size > OWN_SLAB_OVER) {
      const id = this.#addSlab(size);
      return [id, this.#append(id, size)];
    }
    const current = this.#slabs[this.#current];
    if (!current || current.used + size > current.buf.length) {
      const previous = this.#current;
      this.#current = this.#addSlab(SLAB_BYTES);
      // A full slab whose records all died while it was being filled is dropped now.
      if (current && current.live === 0) this.#dropSlab(previous);
    }
    return [this.#current, this.#append(this.#current, size)];
  }

  #append(id: number, size: number): number {
    const slab = this.#slabs[id] as Slab;
    const at = slab.used;
    slab.used += size;
    slab.live += size;
    this.#live += size;
    return at + RECORD_HEADER_BYTES;
  }

  #setSlot(slot: number, id: number, start: number, length: number): void {
    this.#slabOf[slot] = id;
    this.#startOf[slot] = start;
    this.#lengthOf[slot] = length;
    const buf = (this.#slabs[id] as Slab).buf;
    buf.writeUInt32LE(slot, start - RECORD_HEADER_BYTES);
    buf.writeUInt32LE(length, start - 4);
  }

  #addSlab(size: number): number {
    const spare = size === SLAB_BYTES ? this.#spares.pop() : undefined;
    // Memory of its own, never a slice of Node's shared pool (which a long-lived slice would keep alive).
    const slab: Slab = { buf: spare ?? Buffer.allocUnsafeSlow(size), used: 0, live: 0 };
    if (!spare) this.#capacity += size;
    const id = this.#freeSlabIds.pop() ?? this.#slabs.length;
    this.#slabs[id] = slab;
    return id;
  }

  #dropSlab(id: number): void {
    const slab = this.#slabs[id];
    if (!slab) return;
    if (slab.buf.length === SLAB_BYTES && this.#spares.length < DEAD_SLABS) this.#spares.push(slab.buf);
    else this.#capacity -= slab.buf.length;
    this.#slabs[id] = undefined;
    this.#freeSlabIds.push(id);
  }

  #newSlot(): number {
    const reused = this.#freeSlots.pop();
    if (reused !== undefined) return reused;
    if (this.#slotsUsed === this.#slabOf.length) this.#growSlots();
    return this.#slotsUsed++;
  }

  #growSlots(): void {
    const n = this.#slabOf.length * 2;
    const slabOf = new Int32Array(n).fill(-1);
    slabOf.set(this.#slabOf);
    const startOf = new Uint32Array(n);
    startOf.set(this.#startOf);
    const lengthOf = new Uint32Array(n);
    lengthOf.set(this.#lengthOf);
    [this.#slabOf, this.#startOf, this.#lengthOf] = [slabOf, startOf, lengthOf];
  }

  #compactIfNeeded(): void {
    if (this.#capacity - this.#live <= DEAD_SLABS * SLAB_BYTES + this.#live * DEAD_FRACTION) return;
    let victim = -1;
    let least = Infinity;
    for (let id = 0; id < this.#slabs.length; id++) {
      const slab = this.#slabs[id];
      if (slab && id !== this.#current && slab.live < slab.used && slab.live < least) [victim, least] = [id, slab.live];
    }
    if (victim >= 0) this.#evacuate(victim);
  }

  /** Copies the slab's live records to the current slab, keeping their slots, and drops it. */
  #evacuate(id: number): void {
    const slab = this.#slabs[id] as Slab;
    for (let at = 0; at < slab.used;) {
      const slot = slab.buf.readUInt32LE(at);
      const length = slab.buf.readUInt32LE(at + 4);
      const start = at + RECORD_HEADER_BYTES;
      if (this.#slabOf[slot] === id && this.#startOf[slot] === start) {
        const [to, toStart] = this.#place(RECORD_HEADER_BYTES + length);
        slab.buf.copy((this.#slabs[to] as Slab).buf, toStart, start, start + length);
        this.#live -= RECORD_HEADER_BYTES + length;
        this.#setSlot(slot, to, toStart, length);
      }
      at = start + length;
    }
    this.#dropSlab(id);
  }
}

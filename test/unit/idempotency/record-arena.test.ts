// The memory store's record arena: a record's bytes stay put (or are moved intact) until freed, slots
// are reused, slabs are memory of their own, and the slabs held stay within what the store charges for:
// live bytes × (1 + DEAD_FRACTION) plus a few slabs, under first-in-first-out churn and under random frees.
import t from 'tap';
import { DEAD_FRACTION, DEAD_SLABS, RECORD_HEADER_BYTES, RecordArena, SLAB_BYTES } from '../../../src/idempotency/record-arena.js';

/** A record whose every byte says which slot it was written for, so a move that garbles it shows. */
function put(arena: RecordArena, length: number, tag: number): number {
  const slot = arena.alloc(length);
  arena.buffer(slot).fill(tag & 0xff, arena.start(slot), arena.start(slot) + length);
  return slot;
}

function intact(arena: RecordArena, slot: number, length: number, tag: number): boolean {
  const start = arena.start(slot);
  return arena.length(slot) === length && arena.buffer(slot).subarray(start, start + length).every((b) => b === (tag & 0xff));
}

const bound = (arena: RecordArena): number => arena.live * (1 + DEAD_FRACTION) + (DEAD_SLABS + 1) * SLAB_BYTES;

t.test('records keep their bytes; freed slots are reused; an emptied arena holds only spare slabs', async (t) => {
  const arena = new RecordArena();
  const a = put(arena, 100, 1);
  const b = put(arena, 200, 2);
  t.ok(intact(arena, a, 100, 1) && intact(arena, b, 200, 2));
  t.equal(arena.live, 300 + 2 * RECORD_HEADER_BYTES);
  arena.free(a);
  arena.free(a);
  t.equal(arena.live, 200 + RECORD_HEADER_BYTES, 'freeing twice frees once');
  t.equal(put(arena, 50, 3), a, 'the freed slot is reused');
  arena.free(a);
  arena.free(b);
  t.equal(arena.live, 0);
  t.ok(arena.capacity <= DEAD_SLABS * SLAB_BYTES + SLAB_BYTES, `capacity ${arena.capacity}`);
});

t.test('slabs are memory of their own, never slices of Node\'s shared buffer pool', async (t) => {
  const arena = new RecordArena();
  for (const length of [10, SLAB_BYTES / 2]) {
    const buf = arena.buffer(put(arena, length, 1));
    t.equal(buf.byteOffset, 0, 'starts its own memory');
    t.equal(buf.buffer.byteLength, buf.length, 'and holds nothing else');
  }
});

t.test('a record over a quarter slab gets a slab of its own, freed with it', async (t) => {
  const arena = new RecordArena();
  const small = put(arena, 10, 1);
  const before = arena.capacity;
  const big = put(arena, 3 * SLAB_BYTES, 2);
  t.ok(intact(arena, big, 3 * SLAB_BYTES, 2));
  t.equal(arena.capacity, before + 3 * SLAB_BYTES + RECORD_HEADER_BYTES);
  arena.free(big);
  t.equal(arena.capacity, before);
  t.ok(intact(arena, small, 10, 1));
});

t.test('first-in-first-out churn: emptied slabs come back, the bound holds', async (t) => {
  const arena = new RecordArena();
  const live: Array<[number, number]> = [];
  for (let i = 0; i < 20_000; i++) {
    live.push([put(arena, 1300, i), i]);
    if (live.length > 3000) arena.free((live.shift() as [number, number])[0]);
    if (arena.capacity > bound(arena)) t.fail(`capacity ${arena.capacity} over ${bound(arena)} at ${i}`);
  }
  t.ok(live.every(([slot, tag]) => intact(arena, slot, 1300, tag)), 'every live record intact');
});

t.test('random frees: compaction moves records intact and keeps the bound', async (t) => {
  const arena = new RecordArena();
  const live = new Map<number, [number, number]>();
  const slots: number[] = [];
  let seed = 7;
  const random = (n: number): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed % n;
  };
  let worst = -Infinity;
  for (let i = 0; i < 10_000; i++) {
    const length = 200 + random(3000);
    const slot = put(arena, length, i);
    live.set(slot, [length, i]);
    slots.push(slot);
    if (slots.length > 1500) {
      // Swap-remove a random live slot; without compaction the half-empty slabs would pile up.
      const at = random(slots.length);
      const victim = slots[at] as number;
      slots[at] = slots[slots.length - 1] as number;
      slots.pop();
      arena.free(victim);
      live.delete(victim);
    }
    worst = Math.max(worst, arena.capacity - bound(arena));
  }
  t.ok(worst <= 0, `capacity never over the bound (worst ${worst})`);
  t.ok([...live].every(([slot, [length, tag]]) => intact(arena, slot, length, tag)), 'every live record intact');
  arena.clear();
  t.equal(arena.capacity, 0);
});

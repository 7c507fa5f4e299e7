// The Cluster's store-loss markers (src/idempotency/shard-markers.ts) against an in-memory Cluster: one
// marker per master, on the master's lowest slot; a marker seen and then gone is a loss, one never seen
// (a new master, a changed lowest slot) is created with the current epoch; `lost:` on any master wins;
// mixed epochs read the same on every replica; and StoreMarker on top refuses for every replica when any
// one master is flushed, until an acknowledgement writes every master's marker.
import calculateSlot from 'cluster-key-slot';
import t from 'tap';
import { ShardMarkers, SlotTags, lowestSlots, type KeyOps } from '../../../src/idempotency/shard-markers.js';
import { StoreMarker } from '../../../src/idempotency/store-marker.js';

/** Marker keys by name (the slot routing is the real Cluster's business); `slots` the masters' lowest. */
function cluster(slots: number[]) {
  const keys = new Map<string, string>();
  const ops: KeyOps = {
    get: async (key) => keys.get(key) ?? null,
    create: async (key, value) => void (keys.has(key) || keys.set(key, value)),
    set: async (key, value) => void keys.set(key, value),
  };
  // creating never-seen markers at once unless told otherwise (the first-second rule has its own test)
  const replica = (clock = { createUnseenAfterMs: 0, now: Date.now }) => new ShardMarkers('p:', () => slots, ops, clock);
  return { keys, slots, replica };
}

t.test('lowestSlots: one slot per master, its lowest, replicas ignored', async (t) => {
  t.same(lowestSlots([['a:1'], ['a:1'], ['b:1', 'b:2'], [], ['c:1'], ['b:1']]), [0, 2, 4]);
  const sparse: string[][] = [];
  sparse[7] = ['x:1'];
  t.same(lowestSlots(sparse), [7], 'unassigned slots are skipped');
  t.same(lowestSlots([]), []);
});

t.test('SlotTags: a tag that hashes to the slot, found once', async (t) => {
  const tags = new SlotTags();
  for (const slot of [0, 1, 5461, 10923, 16383, 12345]) {
    const tag = tags.tag(slot);
    t.match(tag, /^m\d+$/);
    t.equal(calculateSlot(tag), slot, `slot ${slot}`);
    t.equal(calculateSlot(`p:marker:{${tag}}`), slot, 'the key with its prefix too');
    t.equal(tags.tag(slot), tag, 'the same tag again');
  }
  t.throws(() => tags.tag(16384), RangeError);
  t.throws(() => tags.tag(-1), RangeError);
});

t.test('a new store: nothing anywhere is null; create writes every master', async (t) => {
  const c = cluster([0, 5461, 10923]);
  const m = c.replica();
  t.equal(await m.get(), null);
  await m.create('ok:one');
  t.same([...c.keys.keys()].sort(), [0, 5461, 10923].map((s) => m.keyFor(s)).sort());
  await m.create('ok:two');
  t.same(new Set(c.keys.values()), new Set(['ok:one']), 'NX: the first value stays');
  t.equal(await m.get(), 'ok:one');
});

t.test('a marker seen and then gone is a loss; a never-seen one is created', async (t) => {
  const c = cluster([0, 5461, 10923]);
  const m = c.replica();
  await m.create('ok:e');
  t.equal(await m.get(), 'ok:e');
  c.slots.push(16000); // a new master
  t.equal(await m.get(), 'ok:e', 'a new master is not a loss');
  t.equal(c.keys.get(m.keyFor(16000)), 'ok:e', 'its marker is created with the current epoch');
  const late = c.replica(); // a replica started later never saw any of them: all present, no loss
  t.equal(await late.get(), 'ok:e');
  c.keys.delete(m.keyFor(5461)); // that master restarted empty
  t.equal(await m.get(), null, 'a seen marker gone: a loss');
  t.equal(await late.get(), null, 'for the later replica too (it has read it)');
  t.notOk(c.keys.has(m.keyFor(5461)), 'reading does not re-create it');
  await m.set('ok:after');
  t.same(new Set(c.keys.values()), new Set(['ok:after']), 'set writes every master');
  t.equal(await m.get(), 'ok:after');
});

t.test('`lost:` on any master wins, the latest; mixed epochs read the greatest on every replica', async (t) => {
  const c = cluster([0, 100, 200]);
  const [a, b] = [c.replica(), c.replica()];
  c.keys.set(a.keyFor(0), 'ok:b');
  c.keys.set(a.keyFor(100), 'ok:c');
  c.keys.set(a.keyFor(200), 'ok:a');
  t.equal(await a.get(), 'ok:c');
  t.equal(await b.get(), 'ok:c', 'the same for another replica');
  c.keys.set(a.keyFor(100), 'lost:2000');
  c.keys.set(a.keyFor(200), 'lost:1000');
  t.equal(await a.get(), 'lost:2000');
  c.keys.delete(a.keyFor(0));
  t.equal(await a.get(), 'lost:2000', 'also with a marker gone');
});

t.test('an empty slot map is an error (StoreMarker: the store did not answer), not a new store', async (t) => {
  const m = cluster([]).replica();
  await t.rejects(m.get(), /slot map is empty/);
  await t.rejects(m.set('ok:x'), /slot map is empty/);
});

t.test('StoreMarker on the markers: any one master flushed refuses on every replica until acknowledged', async (t) => {
  const c = cluster([0, 5461, 10923]);
  const seen: string[] = [];
  const replicas = [c.replica(), c.replica()].map((b) => new StoreMarker(b, { mode: 'refuse', ttlMs: 60_000, onLoss: (m) => seen.push(m) }));
  for (const r of replicas) for (let i = 0; i < 2; i++) await r.poll();
  t.ok(replicas.every((r) => !r.refusing && r.verified), 'created and adopted');
  c.slots.push(16000);
  for (const r of replicas) await r.poll();
  t.same(seen, [], 'a new master is no loss');
  c.keys.delete([...c.keys.keys()].find((k) => k.endsWith(`{${new SlotTags().tag(10923)}}`)) ?? '');
  const [first, second] = replicas;
  await first?.poll();
  t.ok(first?.refusing, 'the replica that saw it refuses');
  t.equal(c.keys.size, 4, 'the flushed master has a marker again');
  t.ok([...c.keys.values()].every((v) => /^lost:\d+$/.test(v)), 'lost: on every master');
  await second?.poll();
  t.ok(second?.refusing, 'the other replica refuses too');
  t.same(seen, ['refuse', 'refuse'], 'each counts it once');
  await second?.acknowledge();
  t.equal(new Set(c.keys.values()).size, 1, 'the acknowledgement writes one epoch');
  t.match([...c.keys.values()][0], /^ok:/);
  await first?.poll();
  t.notOk(first?.refusing, 'every replica resumes');
  t.same(seen, ['refuse', 'refuse'], 'the acknowledgement is no loss');
});

t.test('a replica in its first second leaves a never-seen marker alone, so a running one still sees the loss', async (t) => {
  const c = cluster([0, 5461, 10923]);
  const running = c.replica();
  await running.create('ok:e');
  t.equal(await running.get(), 'ok:e');
  let now = 50_000;
  const fresh = c.replica({ createUnseenAfterMs: 1000, now: () => now });
  c.keys.delete(running.keyFor(5461)); // that master restarted empty, just as `fresh` started
  t.equal(await fresh.get(), 'ok:e', 'the fresh replica reads the epoch of the others');
  t.notOk(c.keys.has(running.keyFor(5461)), 'and does not re-create the missing marker');
  t.equal(await running.get(), null, 'the running replica sees its marker gone: a loss');
  c.slots.push(16000); // a new master, after the fresh replica's first second
  now += 999;
  await fresh.get();
  t.notOk(c.keys.has(fresh.keyFor(16000)), 'still within the first second: not created');
  now += 1;
  t.equal(await fresh.get(), 'ok:e');
  t.equal(c.keys.get(fresh.keyFor(16000)), 'ok:e', 'from then on a never-seen marker is created with the epoch');
});

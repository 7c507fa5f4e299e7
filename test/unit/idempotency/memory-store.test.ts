// What only the memory store has: bounds by entries and bytes, the eviction callback, and in-flight
// claims that are never evicted, however full the cache is.
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { makeFingerprint } from '../../../src/idempotency/fingerprint.js';
import { encodedLength } from '../../../src/idempotency/memory-record.js';
import { MemoryStore, type EvictionCause } from '../../../src/idempotency/memory-store.js';
import { recordCharge } from '../../../src/idempotency/tenant-shares.js';
import type { ClaimResult, Completion } from '../../../src/idempotency/store.js';

const FP = makeFingerprint('POST', '/x', Buffer.from('b'));
const OPTS = { ttlMs: 60_000, leaseMs: 60_000 };
const body = (n: number): Completion => ({ kind: 'response', response: { status: 200, headers: [], body: Buffer.alloc(n, 7) } });

function tokenOf(r: ClaimResult): string {
  if (r.kind !== 'claimed') throw new Error(`expected claimed, got ${r.kind}`);
  return r.token;
}

async function fill(store: MemoryStore, keys: string[], completion: Completion): Promise<void> {
  for (const k of keys) await store.complete('t', k, tokenOf(await store.claim('t', k, FP, OPTS)), completion);
}

t.test('evicts the least recently used record by entry count and reports it', async (t) => {
  const evictions: EvictionCause[] = [];
  const store = new MemoryStore({ maxEntries: 3, maxBytes: 1 << 20, onEvict: (c) => evictions.push(c) });
  t.teardown(() => store.close());
  await fill(store, ['a', 'b', 'c', 'd'], { kind: 'response_unavailable' });
  t.same(evictions, ['entries']);
  t.equal((await store.claim('t', 'a', FP, OPTS)).kind, 'claimed', 'the oldest record is gone: the key is new');
  t.equal((await store.claim('t', 'd', FP, OPTS)).kind, 'completed', 'the newest is kept');
});

t.test('evicts by bytes and reports it', async (t) => {
  const evictions: EvictionCause[] = [];
  const store = new MemoryStore({ maxEntries: 100, maxBytes: 10_000, onEvict: (c) => evictions.push(c) });
  t.teardown(() => store.close());
  await fill(store, ['a', 'b', 'c'], body(4000));
  t.same(evictions, ['bytes']);
  t.ok(store.size.completedBytes <= 10_000, `within bounds: ${store.size.completedBytes}`);
  t.equal((await store.claim('t', 'a', FP, OPTS)).kind, 'claimed');
});

t.test('a record is charged at least its encoded bytes and its key, plus the fixed overhead', async (t) => {
  const store = new MemoryStore({ maxEntries: 10, maxBytes: 1 << 20 });
  t.teardown(() => store.close());
  const completion: Completion = { kind: 'response', response: { status: 201, headers: [['content-type', 'application/json'], ['x-a', 'b']], body: Buffer.alloc(1024, 1) } };
  const key = 'k'.repeat(40);
  await fill(store, [key], completion);
  const encoded = encodedLength(FP, completion);
  t.equal(store.size.completedBytes, recordCharge(encoded, key));
  t.ok(store.size.completedBytes >= encoded + key.length + 160, `charged ${store.size.completedBytes} for ${encoded} encoded bytes`);
  t.ok(recordCharge(encoded, `${key}x`) > recordCharge(encoded, key), 'a longer key costs more');
});

t.test('filling to maxBytes evicts: what is kept is what maxBytes allows, each eviction counted', async (t) => {
  const evictions: EvictionCause[] = [];
  const charge = recordCharge(encodedLength(FP, body(1000)), 'k00');
  const store = new MemoryStore({ maxEntries: 1000, maxBytes: 40 * charge + 10, onEvict: (c) => evictions.push(c) });
  t.teardown(() => store.close());
  await fill(store, Array.from({ length: 100 }, (_, i) => `k${String(i).padStart(2, '0')}`), body(1000));
  t.equal(store.size.completed, 40, 'as many records as maxBytes holds');
  t.equal(store.size.completedBytes, 40 * charge);
  t.equal(evictions.length, 60);
  t.ok(evictions.every((c) => c === 'bytes'));
  t.equal((await store.claim('t', 'k99', FP, OPTS)).kind, 'completed', 'the newest replays');
  t.equal((await store.claim('t', 'k00', FP, OPTS)).kind, 'claimed', 'the oldest is gone');
});

t.test('in-flight claims are never evicted, even far over the bounds', async (t) => {
  const evictions: EvictionCause[] = [];
  const store = new MemoryStore({ maxEntries: 2, maxBytes: 2048, onEvict: (c) => evictions.push(c) });
  t.teardown(() => store.close());
  const keys = Array.from({ length: 50 }, (_, i) => `k${i}`);
  for (const k of keys) t.equal((await store.claim('t', k, FP, OPTS)).kind, 'claimed');
  await fill(store, ['x', 'y', 'z'], body(100));
  t.equal(store.size.inFlight, 50);
  for (const k of keys) t.equal((await store.claim('t', k, FP, OPTS)).kind, 'in_progress', `${k} still in flight`);
  t.same(evictions, ['entries']);
});

t.test('expiry is not an eviction', async (t) => {
  const evictions: EvictionCause[] = [];
  const store = new MemoryStore({ maxEntries: 1, maxBytes: 1 << 20, onEvict: (c) => evictions.push(c) });
  t.teardown(() => store.close());
  await store.complete('t', 'a', tokenOf(await store.claim('t', 'a', FP, { ttlMs: 50, leaseMs: 50 })), { kind: 'response_unavailable' });
  await sleep(80);
  await fill(store, ['b'], { kind: 'response_unavailable' });
  t.same(evictions, [], 'the expired record made room without counting');
});

t.test('a response larger than the whole cache is kept as response_unavailable', async (t) => {
  const evictions: EvictionCause[] = [];
  const store = new MemoryStore({ maxEntries: 10, maxBytes: 4096, onEvict: (c) => evictions.push(c) });
  t.teardown(() => store.close());
  await fill(store, ['big'], body(10_000));
  t.same(await store.claim('t', 'big', FP, OPTS), { kind: 'completed', completion: { kind: 'response_unavailable' } });
  t.same(evictions, []);
});

t.test('a stored body cannot be changed through the caller\'s Buffer', async (t) => {
  const store = new MemoryStore({ maxEntries: 10, maxBytes: 1 << 20 });
  t.teardown(() => store.close());
  const buf = Buffer.from('original');
  await fill(store, ['k'], { kind: 'response', response: { status: 200, headers: [], body: buf } });
  buf.write('XXXXXXXX');
  const first = await store.claim('t', 'k', FP, OPTS);
  if (first.kind === 'completed' && first.completion.kind === 'response') first.completion.response.body.write('YYYYYYYY');
  const again = await store.claim('t', 'k', FP, OPTS);
  t.equal(again.kind === 'completed' && again.completion.kind === 'response' ? again.completion.response.body.toString() : '', 'original');
});

t.test('the sweeper drops in-flight records past their ttl', async (t) => {
  const store = new MemoryStore({ maxEntries: 10, maxBytes: 1 << 20, sweepIntervalMs: 20 });
  t.teardown(() => store.close());
  await store.claim('t', 'k', FP, { ttlMs: 30, leaseMs: 30 });
  t.equal(store.size.inFlight, 1);
  await sleep(100);
  t.equal(store.size.inFlight, 0);
});

t.test('rejects nonsensical bounds', async (t) => {
  t.throws(() => new MemoryStore({ maxEntries: 0, maxBytes: 1 << 20 }), RangeError);
  t.throws(() => new MemoryStore({ maxEntries: 10, maxBytes: 10 }), RangeError);
  t.throws(() => new MemoryStore({ maxEntries: 1.5, maxBytes: 1 << 20 }), RangeError);
});

t.test('kind and ping', async (t) => {
  const store = new MemoryStore({ maxEntries: 1, maxBytes: 1 << 20 });
  t.equal(store.kind, 'memory');
  await t.resolves(store.ping());
  await store.close();
});

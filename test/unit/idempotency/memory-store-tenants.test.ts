// Issue 13 finding 4 (SPEC §9 rev 2): one tenant's traffic never evicts another tenant's completed
// records. Each tenant keeps within its share of the entry and byte bounds by evicting its own oldest,
// and the global bounds still hold when the shares' floors add up to more than them.
import t from 'tap';
import { makeFingerprint } from '../../../src/idempotency/fingerprint.js';
import { MemoryStore, type EvictionCause } from '../../../src/idempotency/memory-store.js';
import type { ClaimResult, Completion } from '../../../src/idempotency/store.js';

const FP = makeFingerprint('POST', '/x', Buffer.from('b'));
const OPTS = { ttlMs: 60_000, leaseMs: 60_000 };
const SMALL: Completion = { kind: 'response_unavailable' };
const body = (n: number): Completion => ({ kind: 'response', response: { status: 200, headers: [], body: Buffer.alloc(n, 7) } });
const keys = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

function tokenOf(r: ClaimResult): string {
  if (r.kind !== 'claimed') throw new Error(`expected claimed, got ${r.kind}`);
  return r.token;
}

async function fill(store: MemoryStore, tenant: string, ks: string[], completion: Completion): Promise<void> {
  for (const k of ks) await store.complete(tenant, k, tokenOf(await store.claim(tenant, k, FP, OPTS)), completion);
}

/** Which of `ks` still replay for `tenant` (a key that is gone is claimed, so release it again). */
async function replaying(store: MemoryStore, tenant: string, ks: string[]): Promise<string[]> {
  const kept: string[] = [];
  for (const k of ks) {
    const r = await store.claim(tenant, k, FP, OPTS);
    if (r.kind === 'completed') kept.push(k);
    else if (r.kind === 'claimed') await store.release(tenant, k, r.token);
  }
  return kept;
}

t.test('a tenant storing many records does not evict another tenant\'s records (entries)', async (t) => {
  const store = new MemoryStore({ maxEntries: 100, maxBytes: 1 << 24, minTenantShare: 10 });
  t.teardown(() => store.close());
  await fill(store, 'A', keys('a', 5), SMALL);
  await fill(store, 'B', keys('b', 1000), SMALL);
  t.same(await replaying(store, 'A', keys('a', 5)), keys('a', 5), 'all of A\'s records replay');
  const bKept = await replaying(store, 'B', keys('b', 1000));
  t.ok(bKept.length <= 50, `B keeps at most its share of 100 / 2 tenants: ${bKept.length}`);
  t.ok(store.size.completed <= 100);
});

t.test('a tenant storing large responses does not evict another tenant\'s records (bytes)', async (t) => {
  const evictions: EvictionCause[] = [];
  const store = new MemoryStore({ maxEntries: 1000, maxBytes: 64 * 1024, minTenantShare: 1, onEvict: (c) => evictions.push(c) });
  t.teardown(() => store.close());
  await fill(store, 'A', keys('a', 5), body(10));
  await fill(store, 'B', keys('b', 100), body(4096));
  t.same(await replaying(store, 'A', keys('a', 5)), keys('a', 5), 'all of A\'s records replay');
  const bKept = await replaying(store, 'B', keys('b', 100));
  t.ok(bKept.length > 0 && bKept.length < 8, `B keeps what fits in half of 64KiB: ${bKept.length}`);
  t.ok(store.size.completedBytes <= 64 * 1024, `within bounds: ${store.size.completedBytes}`);
  t.ok(evictions.length > 0 && evictions.every((c) => c === 'bytes'), 'every eviction was for bytes');
});

t.test('a tenant over its share evicts its own oldest records first, and says why', async (t) => {
  const evictions: EvictionCause[] = [];
  const store = new MemoryStore({ maxEntries: 10, maxBytes: 1 << 20, minTenantShare: 2, onEvict: (c) => evictions.push(c) });
  t.teardown(() => store.close());
  await fill(store, 'A', keys('a', 3), SMALL);
  await fill(store, 'B', keys('b', 10), SMALL);
  t.same(evictions, ['entries', 'entries', 'entries', 'entries', 'entries'], 'B pushed out five of its own records');
  t.same(await replaying(store, 'B', keys('b', 10)), keys('b', 10).slice(5), 'B\'s five newest survive');
  t.same(await replaying(store, 'A', keys('a', 3)), keys('a', 3), 'A keeps all three');
});

t.test('a response bigger than the tenant\'s byte share is kept as response_unavailable', async (t) => {
  const evictions: EvictionCause[] = [];
  const store = new MemoryStore({ maxEntries: 100, maxBytes: 64 * 1024, minTenantShare: 1, onEvict: (c) => evictions.push(c) });
  t.teardown(() => store.close());
  await fill(store, 'A', ['a'], SMALL);
  await fill(store, 'B', ['big'], body(40 * 1024));
  t.same(await store.claim('B', 'big', FP, OPTS), { kind: 'completed', completion: { kind: 'response_unavailable' } });
  t.same(await replaying(store, 'A', ['a']), ['a']);
  t.same(evictions, []);
});

t.test('the global bounds hold when minTenantShare × tenants exceeds them', async (t) => {
  const evictions: EvictionCause[] = [];
  const store = new MemoryStore({ maxEntries: 20, maxBytes: 1 << 20, minTenantShare: 10, onEvict: (c) => evictions.push(c) });
  t.teardown(() => store.close());
  for (const tenant of ['A', 'B', 'C', 'D', 'E']) await fill(store, tenant, keys(tenant, 10), SMALL);
  t.ok(store.size.completed <= 20, `size.completed ${store.size.completed} <= maxEntries`);
  let replayed = 0;
  for (const tenant of ['A', 'B', 'C', 'D', 'E']) replayed += (await replaying(store, tenant, keys(tenant, 10))).length;
  t.equal(replayed, store.size.completed, 'size counts exactly the records that replay');
  t.equal(evictions.length, 50 - store.size.completed, 'every record pushed out was reported');
  t.ok(evictions.every((c) => c === 'entries'));
});

t.test('the global byte bound holds too, and emptied tenants stop counting', async (t) => {
  const store = new MemoryStore({ maxEntries: 100, maxBytes: 32 * 1024, minTenantShare: 50 });
  t.teardown(() => store.close());
  for (const tenant of ['A', 'B', 'C', 'D']) await fill(store, tenant, keys(tenant, 5), body(4096));
  t.ok(store.size.completedBytes <= 32 * 1024, `within bounds: ${store.size.completedBytes}`);
  await store.close();
  t.same(store.size, { inFlight: 0, completed: 0, completedBytes: 0 });
});

t.test('the sweeper drops expired completed records of every tenant, and their emptied caches', async (t) => {
  const store = new MemoryStore({ maxEntries: 10, maxBytes: 1 << 20, minTenantShare: 5, sweepIntervalMs: 20 });
  t.teardown(() => store.close());
  for (const tenant of ['A', 'B']) {
    await store.complete(tenant, 'k', tokenOf(await store.claim(tenant, 'k', FP, { ttlMs: 30, leaseMs: 30 })), SMALL);
  }
  t.equal(store.size.completed, 2);
  await new Promise((resolve) => setTimeout(resolve, 120));
  t.same(store.size, { inFlight: 0, completed: 0, completedBytes: 0 });
});

// The shared lease renewer: every held claim stays alive past its lease, a claim let go lapses, and a
// renewal the store refuses is reported.
import t from 'tap';
import { LeaseKeeper } from '../../../src/idempotency/lease-keeper.js';
import { MemoryStore } from '../../../src/idempotency/memory-store.js';
import type { IdempotencyStore } from '../../../src/idempotency/store.js';

const FP = { method: 'POST', target: '/v1/a', bodySha256: 'a'.repeat(64) };
const LEASE_MS = 150;
const OPTS = { ttlMs: 60_000, leaseMs: LEASE_MS };
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function claimToken(store: IdempotencyStore, key: string): Promise<string> {
  const claim = await store.claim('t', key, FP, OPTS);
  if (claim.kind !== 'claimed') throw new Error(`expected a claim, got ${claim.kind}`);
  return claim.token;
}

t.test('held claims outlive their lease; a claim let go lapses', async (t) => {
  const store = new MemoryStore({ maxEntries: 10, maxBytes: 1 << 20 });
  t.teardown(() => store.close());
  const keeper = new LeaseKeeper(store, LEASE_MS, () => t.fail('no renewal should fail'));
  const letGoA = keeper.hold('t', 'a', await claimToken(store, 'a'));
  const letGoB = keeper.hold('t', 'b', await claimToken(store, 'b'));
  await sleep(LEASE_MS * 3);
  t.equal((await store.claim('t', 'a', FP, OPTS)).kind, 'in_progress', 'a: still in progress after three leases');
  t.equal((await store.claim('t', 'b', FP, OPTS)).kind, 'in_progress', 'b: still in progress after three leases');
  letGoA();
  await sleep(LEASE_MS * 2);
  t.equal((await store.claim('t', 'a', FP, OPTS)).kind, 'owner_lost', 'a: lapsed once let go');
  t.equal((await store.claim('t', 'b', FP, OPTS)).kind, 'in_progress', 'b: still renewed');
  letGoB();
  letGoB();
});

t.test('a renewal the store refuses is reported', async (t) => {
  const memory = new MemoryStore({ maxEntries: 10, maxBytes: 1 << 20 });
  t.teardown(() => memory.close());
  let failures = 0;
  const failing: IdempotencyStore = Object.assign(Object.create(memory) as MemoryStore, {
    renewLease: () => Promise.reject(new Error('store down')),
  });
  const keeper = new LeaseKeeper(failing, LEASE_MS, () => failures++);
  const letGo = keeper.hold('t', 'k', await claimToken(memory, 'k'));
  await sleep(LEASE_MS * 2);
  letGo();
  t.ok(failures >= 1, `refused renewals reported (${failures})`);
});

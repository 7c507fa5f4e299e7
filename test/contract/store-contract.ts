// The idempotency store contract (SPEC §9), run against every IdempotencyStore implementation by
// memory-store.test.ts and redis-store.test.ts. Not a test file itself: tap only runs *.test.ts.
// Each subtest gets a fresh store and its own tenant, so stores sharing one Redis never meet.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Test } from 'tap';
import { makeFingerprint } from '../../src/idempotency/fingerprint.js';
import type { ClaimOptions, ClaimResult, Completion, IdempotencyStore } from '../../src/idempotency/store.js';

const OPTS: ClaimOptions = { ttlMs: 30_000, leaseMs: 10_000 };
const FP = makeFingerprint('POST', '/v1/transfers?dry=0', Buffer.from('{"amount":1}'));
const ALL_BYTES = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));

type StoreTest = (t: Test, store: IdempotencyStore, tenant: string) => Promise<void>;

function claimed(t: Test, result: ClaimResult, message = 'claimed'): string {
  t.equal(result.kind, 'claimed', message);
  return result.kind === 'claimed' ? result.token : 'not-claimed';
}

/** Claims, completes with `completion`, and returns what a duplicate then sees. */
async function roundTrip(t: Test, store: IdempotencyStore, tenant: string, completion: Completion): Promise<ClaimResult> {
  const token = claimed(t, await store.claim(tenant, 'k', FP, OPTS));
  t.equal(await store.complete(tenant, 'k', token, completion), true, 'completed by its owner');
  return store.claim(tenant, 'k', FP, OPTS);
}

const CASES: Record<string, StoreTest> = {
  'claim, then a duplicate is in progress': async (t, store, tenant) => {
    const token = claimed(t, await store.claim(tenant, 'k', FP, OPTS));
    t.match(token, /^[0-9a-f-]{36}$/, 'token is a UUID');
    t.same(await store.claim(tenant, 'k', FP, OPTS), { kind: 'in_progress' });
  },
  'a completed response replays exactly (binary body, headers, status)': async (t, store, tenant) => {
    const headers = [['content-type', 'application/octet-stream'], ['x-a', 'caf\u00e9 \u00ff'], ['x-a', ''], ['link', '<a>; rel="x"']] as const;
    const got = await roundTrip(t, store, tenant, { kind: 'response', response: { status: 201, headers, body: ALL_BYTES } });
    t.equal(got.kind, 'completed');
    if (got.kind !== 'completed' || got.completion.kind !== 'response') return;
    t.equal(got.completion.response.status, 201);
    t.same(got.completion.response.headers, headers);
    t.ok(Buffer.isBuffer(got.completion.response.body), 'body is a Buffer');
    t.ok(got.completion.response.body.equals(ALL_BYTES), 'body bytes 0x00..0xff round-trip');
  },
  'an empty body replays as an empty Buffer': async (t, store, tenant) => {
    const got = await roundTrip(t, store, tenant, { kind: 'response', response: { status: 204, headers: [], body: Buffer.alloc(0) } });
    t.same(got, { kind: 'completed', completion: { kind: 'response', response: { status: 204, headers: [], body: Buffer.alloc(0) } } });
  },
  'response_unavailable and both outcome_unknown codes round-trip': async (t, store) => {
    const completions: Completion[] = [
      { kind: 'response_unavailable' },
      { kind: 'outcome_unknown', code: 'UPSTREAM_TIMEOUT' },
      { kind: 'outcome_unknown', code: 'UPSTREAM_OUTCOME_UNKNOWN' },
    ];
    for (const completion of completions) {
      t.same(await roundTrip(t, store, `tenant-${randomUUID()}`, completion), { kind: 'completed', completion });
    }
  },
  'a different method, target or body is a conflict and changes nothing': async (t, store, tenant) => {
    const others = [
      makeFingerprint('PUT', '/v1/transfers?dry=0', Buffer.from('{"amount":1}')),
      makeFingerprint('POST', '/v1/transfers?dry=1', Buffer.from('{"amount":1}')),
      makeFingerprint('POST', '/v1/transfers?dry=0', Buffer.from('{"amount":2}')),
    ];
    const token = claimed(t, await store.claim(tenant, 'k', FP, OPTS));
    for (const fp of others) t.same(await store.claim(tenant, 'k', fp, OPTS), { kind: 'conflict' }, 'in flight: conflict');
    t.same(await store.claim(tenant, 'k', FP, OPTS), { kind: 'in_progress' }, 'still in flight');
    const completion: Completion = { kind: 'response', response: { status: 200, headers: [['a', 'b']], body: Buffer.from('ok') } };
    t.equal(await store.complete(tenant, 'k', token, completion), true, 'the owner still completes');
    for (const fp of others) t.same(await store.claim(tenant, 'k', fp, OPTS), { kind: 'conflict' }, 'completed: conflict');
    t.same(await store.claim(tenant, 'k', FP, OPTS), { kind: 'completed', completion }, 'record unchanged');
  },
  'release makes the key new again': async (t, store, tenant) => {
    const first = claimed(t, await store.claim(tenant, 'k', FP, OPTS));
    t.equal(await store.release(tenant, 'k', first), true);
    const second = claimed(t, await store.claim(tenant, 'k', FP, OPTS), 'claimed again');
    t.not(second, first, 'a new token');
    t.equal(await store.complete(tenant, 'k', first, { kind: 'response_unavailable' }), false, 'old token is not the owner');
  },
  'a wrong token cannot complete, release or renew': async (t, store, tenant) => {
    const token = claimed(t, await store.claim(tenant, 'k', FP, OPTS));
    const wrong = randomUUID();
    t.equal(await store.complete(tenant, 'k', wrong, { kind: 'response_unavailable' }), false);
    t.equal(await store.release(tenant, 'k', wrong), false);
    t.equal(await store.renewLease(tenant, 'k', wrong, 1000), false);
    t.same(await store.claim(tenant, 'k', FP, OPTS), { kind: 'in_progress' }, 'untouched');
    t.equal(await store.complete(tenant, 'k', token, { kind: 'response_unavailable' }), true);
    t.equal(await store.complete(tenant, 'k', token, { kind: 'response_unavailable' }), false, 'only once');
    t.equal(await store.release(tenant, 'k', token), false, 'a completed record is not released');
    t.equal(await store.renewLease(tenant, 'k', token, 1000), false, 'nor renewed');
    t.equal(await store.complete('other-tenant', 'k', token, { kind: 'response_unavailable' }), false, 'nor another tenant\'s');
  },
  'unknown keys: complete, release and renew answer false': async (t, store, tenant) => {
    t.equal(await store.complete(tenant, 'nope', randomUUID(), { kind: 'response_unavailable' }), false);
    t.equal(await store.release(tenant, 'nope', randomUUID()), false);
    t.equal(await store.renewLease(tenant, 'nope', randomUUID(), 1000), false);
  },
  'after the ttl an in-flight or completed key is new again': async (t, store, tenant) => {
    const short = { ttlMs: 300, leaseMs: 5000 };
    claimed(t, await store.claim(tenant, 'a', FP, short));
    const token = claimed(t, await store.claim(tenant, 'b', FP, short));
    t.equal(await store.complete(tenant, 'b', token, { kind: 'response_unavailable' }), true);
    await sleep(450);
    claimed(t, await store.claim(tenant, 'a', FP, OPTS), 'in-flight key expired');
    claimed(t, await store.claim(tenant, 'b', FP, OPTS), 'completed key expired');
  },
  'complete keeps the expiry of the first request': async (t, store, tenant) => {
    const started = Date.now();
    // ttl 800 ms, completed at 300 ms: gone at 950 ms, long before 300 + 800 ms.
    const token = claimed(t, await store.claim(tenant, 'k', FP, { ttlMs: 800, leaseMs: 5000 }));
    await sleep(300);
    t.equal(await store.complete(tenant, 'k', token, { kind: 'response_unavailable' }), true);
    t.same(await store.claim(tenant, 'k', FP, OPTS), { kind: 'completed', completion: { kind: 'response_unavailable' } });
    await sleep(Math.max(0, started + 950 - Date.now()));
    claimed(t, await store.claim(tenant, 'k', FP, OPTS), 'gone 800 ms after the claim, not after complete');
  },
  'a lapsed lease is owner_lost, never claimed again': async (t, store, tenant) => {
    const token = claimed(t, await store.claim(tenant, 'k', FP, { ttlMs: 30_000, leaseMs: 200 }));
    await sleep(350);
    t.same(await store.claim(tenant, 'k', FP, OPTS), { kind: 'owner_lost' });
    t.same(await store.claim(tenant, 'k', FP, OPTS), { kind: 'owner_lost' }, 'still owner_lost');
    t.equal(await store.renewLease(tenant, 'k', token, 1000), false, 'a lapsed lease is not revived');
    t.same(await store.claim(tenant, 'k', FP, OPTS), { kind: 'owner_lost' }, 'still owner_lost after renew');
    // The late owner's real answer beats "outcome unknown" for later duplicates.
    t.equal(await store.complete(tenant, 'k', token, { kind: 'response_unavailable' }), true, 'the late owner may complete');
    t.same(await store.claim(tenant, 'k', FP, OPTS), { kind: 'completed', completion: { kind: 'response_unavailable' } });
  },
  'a late answer replaces its own timeout, once': async (t, store, tenant) => {
    const token = claimed(t, await store.claim(tenant, 'k', FP, OPTS));
    t.equal(await store.complete(tenant, 'k', token, { kind: 'outcome_unknown', code: 'UPSTREAM_TIMEOUT' }), true);
    const late: Completion = { kind: 'response', response: { status: 201, headers: [['content-type', 'text/plain']], body: Buffer.from('late') } };
    t.equal(await store.completeLate(tenant, 'k', 'another-token', late), false, 'another token cannot');
    t.equal(await store.completeLate(tenant, 'k', token, late), true, 'the owner of the timeout can');
    t.same(await store.claim(tenant, 'k', FP, OPTS), { kind: 'completed', completion: late }, 'duplicates get the real answer');
    t.equal(await store.completeLate(tenant, 'k', token, { kind: 'response_unavailable' }), false, 'a replaced timeout is not replaced again');
    t.same(await store.claim(tenant, 'k', FP, OPTS), { kind: 'completed', completion: late }, 'still the first late answer');
  },
  'a late answer lands even before the timeout was stored; other outcomes are never replaced': async (t, store, tenant) => {
    const token = claimed(t, await store.claim(tenant, 'k', FP, OPTS));
    t.equal(await store.completeLate(tenant, 'k', token, { kind: 'response_unavailable' }), true, 'in flight: completed');
    t.equal(await store.complete(tenant, 'k', token, { kind: 'outcome_unknown', code: 'UPSTREAM_TIMEOUT' }), false, 'the timeout comes too late');
    t.same(await store.claim(tenant, 'k', FP, OPTS), { kind: 'completed', completion: { kind: 'response_unavailable' } });
    for (const completion of [{ kind: 'outcome_unknown', code: 'UPSTREAM_OUTCOME_UNKNOWN' }, { kind: 'response_unavailable' }] as const) {
      const other = `${tenant}-${completion.kind}`;
      const owner = claimed(t, await store.claim(other, 'k', FP, OPTS));
      t.equal(await store.complete(other, 'k', owner, completion), true);
      t.equal(await store.completeLate(other, 'k', owner, { kind: 'response_unavailable' }), false, `${completion.kind} stays`);
    }
  },
  'a late 503 releases the key: the next claim executes': async (t, store, tenant) => {
    const token = claimed(t, await store.claim(tenant, 'k', FP, OPTS));
    t.equal(await store.complete(tenant, 'k', token, { kind: 'outcome_unknown', code: 'UPSTREAM_TIMEOUT' }), true);
    t.equal(await store.completeLate(tenant, 'k', token, undefined), true);
    claimed(t, await store.claim(tenant, 'k', FP, OPTS), 'the key is new again');
  },
  'renewLease keeps the record in progress': async (t, store, tenant) => {
    const token = claimed(t, await store.claim(tenant, 'k', FP, { ttlMs: 30_000, leaseMs: 400 }));
    for (let i = 0; i < 6; i++) {
      await sleep(100);
      t.equal(await store.renewLease(tenant, 'k', token, 400), true, `renewal ${i}`);
    }
    t.same(await store.claim(tenant, 'k', FP, OPTS), { kind: 'in_progress' }, 'alive 600 ms after a 400 ms lease');
  },
  '50 concurrent claims of one key: exactly one wins': async (t, store, tenant) => {
    const results = await Promise.all(Array.from({ length: 50 }, () => store.claim(tenant, 'k', FP, OPTS)));
    t.equal(results.filter((r) => r.kind === 'claimed').length, 1, 'one claimed');
    t.equal(results.filter((r) => r.kind === 'in_progress').length, 49, 'the rest in progress');
  },
  'the same key in two tenants is two records': async (t, store, tenant) => {
    const other = `${tenant}-b`;
    const a = claimed(t, await store.claim(tenant, 'k', FP, OPTS));
    claimed(t, await store.claim(other, 'k', FP, OPTS), 'second tenant claims too');
    t.equal(await store.complete(tenant, 'k', a, { kind: 'response_unavailable' }), true);
    t.same(await store.claim(other, 'k', FP, OPTS), { kind: 'in_progress' }, 'second tenant unaffected');
    // Separators must not let tenant "x" + key "y:k" meet tenant "x:y" + key "k".
    claimed(t, await store.claim(`${tenant}:y`, 'k', FP, OPTS));
    claimed(t, await store.claim(tenant, 'y:k', FP, OPTS));
  },
  'keys are compared exactly, whatever their characters': async (t, store, tenant) => {
    claimed(t, await store.claim(tenant, 'k', FP, OPTS));
    const keys = ['a'.repeat(255), '{x}', 'k*?[]', 'K', 'k ', '"k"', 'k\\'];
    for (const key of keys) claimed(t, await store.claim(tenant, key, FP, OPTS), `claims ${JSON.stringify(key).slice(0, 20)}`);
    t.same(await store.claim(tenant, 'k', FP, OPTS), { kind: 'in_progress' }, 'k itself is still in progress');
  },
  'ping resolves': async (t, store) => {
    await t.resolves(store.ping());
  },
};

export function runStoreContract(t: Test, name: string, makeStore: () => Promise<IdempotencyStore>): void {
  t.test(`${name}: idempotency store contract`, async (t) => {
    for (const [title, run] of Object.entries(CASES)) {
      await t.test(title, async (t) => {
        const store = await makeStore();
        t.teardown(() => store.close());
        await run(t, store, `tenant-${randomUUID()}`);
      });
    }
  });
}

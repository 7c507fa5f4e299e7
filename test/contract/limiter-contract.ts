// The rate limiter contract (SPEC §13), run against every Limiter by memory-limiter.test.ts and
// redis-limiter.test.ts. Not a test file itself: tap only runs *.test.ts. Every subtest uses its own
// bucket names, so limiters sharing one Redis never meet. Real time: windows are short, waits bounded.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Test } from 'tap';
import { keyBucket, makeBucket, tenantBucket, type Bucket } from '../../src/ratelimit/bucket.js';
import type { Limiter, Verdict } from '../../src/ratelimit/limiter.js';

type LimiterTest = (t: Test, limiter: Limiter, name: string) => Promise<void>;

/** n takes in a row; how many were admitted. */
async function admitted(limiter: Limiter, buckets: readonly Bucket[], n: number): Promise<number> {
  let ok = 0;
  for (let i = 0; i < n; i++) if ((await limiter.take(buckets)) === undefined) ok++;
  return ok;
}

const CASES: Record<string, LimiterTest> = {
  'a full bucket admits burst requests at once, then refuses with a wait of one interval': async (t, limiter, name) => {
    const b = tenantBucket(name, { limit: 2, window: 1000, burst: 5 });
    t.equal(await admitted(limiter, [b], 5), 5, 'burst admitted');
    const refusal = await limiter.take([b]);
    t.equal(refusal?.bucket, b, 'the next is refused by that bucket');
    t.ok(refusal && refusal.waitMs > 0 && refusal.waitMs <= 500, `wait ${refusal?.waitMs} ms is at most one interval (500 ms)`);
  },
  'burst defaults to limit; a refused bucket admits again once its interval has passed': async (t, limiter, name) => {
    // An interval of 1 s, so that a loaded machine stalling between two calls (CI ran it with 150 ms of
    // slack and lost) cannot let a second interval pass unnoticed.
    const b = keyBucket(name, 'ck_a', { limit: 3, window: 3000 });
    t.equal(b.burst, 3);
    t.equal(await admitted(limiter, [b], 4), 3, 'limit admitted, the next refused');
    await sleep(1050);
    t.equal(await limiter.take([b]), undefined, 'one interval (1 s) later: admitted');
    t.not(await limiter.take([b]), undefined, 'and only one');
  },
  'two buckets are charged together or not at all': async (t, limiter, name) => {
    const tight = tenantBucket(name, { limit: 1, window: 60_000 });
    const wide = keyBucket(name, 'ck_b', { limit: 5, window: 60_000 });
    t.equal(await limiter.take([tight, wide]), undefined, 'first admitted');
    const refusal = await limiter.take([tight, wide]);
    t.equal(refusal?.bucket, tight, 'refused by the tenant bucket');
    t.equal(await admitted(limiter, [wide], 5), 4, 'the refusal did not use the key bucket: 4 of 5 left');
  },
  'the refusal names the bucket with the longest wait': async (t, limiter, name) => {
    const short = tenantBucket(name, { limit: 10, window: 1000 });
    const long = keyBucket(name, 'ck_c', { limit: 1, window: 30_000 });
    t.equal(await admitted(limiter, [short], 10), 10);
    t.equal(await admitted(limiter, [long], 1), 1);
    const refusal: Verdict = await limiter.take([short, long]);
    t.equal(refusal?.bucket, long);
    t.ok(refusal && refusal.waitMs > 20_000 && refusal.waitMs <= 30_000, `wait ${refusal?.waitMs}`);
  },
  'peek charges nothing; add charges past the limit but never beyond the window': async (t, limiter, name) => {
    const b = makeBucket('failed_auth', `fa:{${name}}`, { limit: 2, window: 1000 });
    for (let i = 0; i < 5; i++) t.equal(await limiter.peek(b), undefined, 'peek admits, repeatedly');
    for (let i = 0; i < 10; i++) await limiter.add(b);
    const refusal = await limiter.peek(b);
    t.ok(refusal && refusal.waitMs > 0 && refusal.waitMs <= 1000, `refused, wait ${refusal?.waitMs} within the window`);
  },
  'state is named by the limit: the same limit recompiled shares it, a changed one starts full': async (t, limiter, name) => {
    const before = tenantBucket(name, { limit: 2, window: 60_000 });
    t.equal(await admitted(limiter, [before], 2), 2);
    const reloaded = tenantBucket(name, { limit: 2, window: 60_000 });
    t.not(await limiter.take([reloaded]), undefined, 'an unchanged limit after a reload keeps its count');
    const changed = tenantBucket(name, { limit: 3, window: 60_000 });
    t.equal(await admitted(limiter, [changed], 3), 3, 'a changed limit starts with a full bucket');
    const other = tenantBucket(`${name}-other`, { limit: 2, window: 60_000 });
    t.equal(await admitted(limiter, [other], 2), 2, 'another tenant with the same limit has its own bucket');
  },
};

export function runLimiterContract(t: Test, label: string, make: () => Promise<Limiter>): void {
  for (const [name, run] of Object.entries(CASES)) {
    t.test(`${label}: ${name}`, async (t) => {
      const limiter = await make();
      t.teardown(() => limiter.close());
      await run(t, limiter, `tnt_${randomUUID()}`);
    });
  }
}

// Runs the shared rate limiter contract against the in-process MemoryLimiter, plus its memory bound.
import t from 'tap';
import { MemoryLimiter } from '../../src/ratelimit/memory-limiter.js';
import { makeBucket } from '../../src/ratelimit/bucket.js';
import { runLimiterContract } from './limiter-contract.js';

runLimiterContract(t, 'memory', async () => new MemoryLimiter());

t.test('memory: past maxEntries the oldest buckets go, so per-IP buckets cannot grow without bound', async (t) => {
  const limiter = new MemoryLimiter({ maxEntries: 3 });
  t.teardown(() => limiter.close());
  const ip = (n: number) => makeBucket('failed_auth', `fa:{10.0.0.${n}}`, { limit: 1, window: 60_000 });
  for (let n = 1; n <= 4; n++) limiter.add(ip(n));
  t.equal(limiter.peek(ip(1)), undefined, 'the oldest was dropped');
  t.not(limiter.peek(ip(4)), undefined, 'the newest is kept');
});

// Runs the shared rate limiter contract against RedisLimiter on the machine's Redis (127.0.0.1:6379),
// under a key prefix of its own that is deleted at the end; plus what only Redis has: the key layout
// and failing within the deadline when Redis is not there. Without Redis: fails under CI, skips otherwise.
import t from 'tap';
import { Redis } from 'ioredis';
import { RedisLimiter } from '../../src/ratelimit/redis-limiter.js';
import { RateLimitStoreError } from '../../src/ratelimit/limiter.js';
import { keyBucket, tenantBucket } from '../../src/ratelimit/bucket.js';
import { freePort } from '../helpers/waits.js';
import { runLimiterContract } from './limiter-contract.js';

const URL = process.env['CUSTODY_PROXY_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const PREFIX = `test:rl:${process.pid}:${Date.now()}:`;

const admin = new Redis(URL, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: 1000, retryStrategy: () => null });
admin.on('error', () => {});
const reachable = await admin.connect().then(() => admin.ping()).then(() => true, () => false);

if (!reachable) {
  if (process.env['CI']) t.fail(`Redis is not reachable at ${URL}; CI needs it`);
  else t.plan(0, `Redis is not reachable at ${URL}; start one to run the Redis limiter contract`);
  admin.disconnect();
} else {
  t.teardown(async () => {
    const keys = await admin.keys(`${PREFIX}*`);
    if (keys.length > 0) await admin.del(...keys);
    await admin.quit();
  });

  runLimiterContract(t, 'redis', async () => new RedisLimiter({ url: URL, keyPrefix: PREFIX }));

  t.test('redis: a tenant and its keys share one hash tag; state expires once the bucket is full again', async (t) => {
    const limiter = new RedisLimiter({ url: URL, keyPrefix: PREFIX });
    t.teardown(() => limiter.close());
    const tenant = tenantBucket('tnt_layout', { limit: 10, window: 2000 });
    const key = keyBucket('tnt_layout', 'ck_layout', { limit: 10, window: 2000 });
    t.equal(await limiter.take([tenant, key]), undefined);
    const keys = (await admin.keys(`${PREFIX}rl:*`)).filter((k) => k.includes(':t:') ? k.endsWith(tenant.key) : k.endsWith(key.key));
    t.equal(keys.length, 2, 'one key per bucket');
    const tags = keys.map((k) => /\{[^}]*\}/.exec(k)?.[0]);
    t.equal(tags[0], tags[1], 'same hash tag: one Cluster slot');
    const ttl = await admin.pttl(`${PREFIX}rl:${tenant.key}`);
    t.ok(ttl > 0 && ttl <= 201, `expires when full again (${ttl} ms)`);
  });

  t.test('redis: an unreachable Redis fails with RateLimitStoreError within the deadline', async (t) => {
    const port = await freePort();
    const limiter = new RedisLimiter({ url: `redis://127.0.0.1:${port}`, keyPrefix: PREFIX });
    t.teardown(() => limiter.close());
    const started = Date.now();
    await t.rejects(Promise.resolve(limiter.take([tenantBucket('tnt_down', { limit: 1, window: 1000 })])), RateLimitStoreError);
    t.ok(Date.now() - started < 1500, 'within the 1 s deadline');
  });
}

// The shared (redis) rate limiter (SPEC §13) on a private redis-server: two replicas (two real proxy
// processes) together admit the tenant's limit, not twice it; and a Redis that stops answering
// (SIGSTOP by PID) follows onStoreError: allow forwards, deny answers 503 and forwards nothing.
import t from 'tap';
import { bearer, credentialsYaml } from '../helpers/credentials.js';
import { startUpstream } from '../helpers/recording-upstream.js';
import { spawnProxy } from '../helpers/spawn-proxy.js';
import { startProxy } from '../helpers/start-proxy.js';
import { assertProxyError, call } from '../helpers/proxy-calls.js';
import { redisServerInstalled, startPrivateRedis, missing } from '../helpers/redis-server.js';
import { sampleValue, scrape } from '../helpers/metrics-text.js';

const KEY = { keyId: 'ck_shared', tenant: 'tnt_shared', secret: 's-shared' };
const DOC = credentialsYaml([{ id: 'tnt_shared', rateLimit: { limit: 6, window: '1m' } } as { id: string }], [KEY]);
const auth = [['Authorization', bearer(KEY)]] as const;

if (!redisServerInstalled()) missing(t, 'redis-server');
else {
  const redis = await startPrivateRedis(t);
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const config = (onStoreError: 'allow' | 'deny', prefix: string) => ({
    rateLimits: { store: 'redis', onStoreError },
    idempotency: { redis: { url: redis.url, keyPrefix: `rl-test-${prefix}:` } },
  });

  t.test('two replicas sharing Redis admit the limit together, not twice it', async (t) => {
    const replicas = [
      await spawnProxy(t, { credentialsYaml: DOC, upstreamUrl: upstream.url, config: config('allow', 'replicas') }),
      await spawnProxy(t, { credentialsYaml: DOC, upstreamUrl: upstream.url, config: config('allow', 'replicas') }),
    ];
    const counts = { 200: 0, 429: 0 } as Record<number, number>;
    for (let i = 0; i < 12; i++) {
      const r = await call((replicas[i % 2] as { url: string }).url, { path: '/v1/shared', headers: auth });
      counts[r.status] = (counts[r.status] ?? 0) + 1;
    }
    t.same(counts, { 200: 6, 429: 6 }, 'six admitted across both replicas, six refused');
    t.equal(upstream.requests.filter((r) => r.url === '/v1/shared').length, 6, 'the upstream saw the limit, not twice it');
  });

  for (const mode of ['allow', 'deny'] as const) {
    t.test(`a stalled Redis with onStoreError: ${mode}`, async (t) => {
      const proxy = await startProxy({ credentialsYaml: DOC, upstreamUrl: upstream.url, config: config(mode, mode) });
      t.teardown(() => proxy.close());
      t.equal((await call(proxy.url, { path: `/v1/${mode}`, headers: auth })).status, 200, 'works while Redis answers');
      redis.pause();
      t.teardown(() => redis.resume());
      const r = await call(proxy.url, { path: `/v1/${mode}`, headers: auth, timeoutMs: 10_000 });
      redis.resume();
      if (mode === 'allow') t.equal(r.status, 200, 'allow: the request passes unlimited');
      else {
        assertProxyError(t, r, 503, 'SERVICE_UNAVAILABLE', 'deny');
        t.equal(r.headers['retry-after'], '1');
      }
      t.equal(upstream.requests.filter((q) => q.url === `/v1/${mode}`).length, mode === 'allow' ? 2 : 1, 'what reached the upstream');
      const metrics = await scrape(proxy.adminUrl);
      t.ok((sampleValue(metrics, 'custody_proxy_rate_limit_store_errors_total') ?? 0) >= 1, 'the store error is counted');
    });
  }
}

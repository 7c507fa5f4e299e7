// Sentinel and Cluster with passwords (SPEC §3 idempotency.redis username/password/sentinelPassword,
// §9 rev 2 topologies), against private redis-server processes with requirepass: a real `custody-proxy
// serve` whose password comes from the environment (`password: "${CP_REDIS_PASSWORD}"`, as the helm
// chart renders it) serves keyed requests; with a wrong password keyed requests get 503, store_up is
// 0, one log line says WRONGPASS, the process keeps running and exits 0 on SIGTERM. A wrong sentinel
// password is told apart the same way (the store on its own).
import { randomUUID } from 'node:crypto';
import t, { type Test } from 'tap';
import { RedisStore } from '../../src/idempotency/redis-store.js';
import { StoreUnavailableError } from '../../src/idempotency/store.js';
import { missing, redisServerInstalled } from '../helpers/redis-server.js';
import { startRedisCluster, startSentinelGroup } from '../helpers/redis-topologies.js';
import { downForASetupProblem, noPasswordIn, proxyWithPassword, startLoginUpstream, worksWithTheRightPassword } from '../helpers/redis-login.js';
import { waitFor } from '../helpers/waits.js';

const PASSWORD = 'redis-pw-0f3a9c51';
const SENTINEL_PASSWORD = 'sentinel-pw-7d21e4b6';
const WRONG = 'wrong-pw-5b8e1172';

async function rightAndWrong(t: Test, redis: Record<string, unknown>): Promise<void> {
  const upstream = await startLoginUpstream(t);
  const right = await proxyWithPassword(t, upstream, redis, PASSWORD);
  await t.test('the right password: keyed requests execute once and replay', (t) => worksWithTheRightPassword(t, right, upstream));
  const wrong = await proxyWithPassword(t, upstream, redis, WRONG);
  await t.test('a wrong password: the store is down, the proxy is not', (t) => downForASetupProblem(t, wrong, upstream, /WRONGPASS/));
  for (const proxy of [right, wrong]) {
    t.equal((await proxy.kill('SIGTERM', 15_000)).code, 0, 'SIGTERM exits 0');
    noPasswordIn(t, proxy, PASSWORD, SENTINEL_PASSWORD, WRONG);
  }
}

async function wrongSentinelPassword(t: Test, sentinels: Array<{ host: string; port: number }>, name: string): Promise<void> {
  const problems: string[] = [];
  const store = new RedisStore({ sentinels, name, password: PASSWORD, sentinelPassword: WRONG, keyPrefix: `login-${randomUUID()}:`, onSetupProblem: (p) => problems.push(p) });
  t.teardown(() => store.close());
  await t.rejects(store.ping(), StoreUnavailableError, 'the store is unavailable');
  await waitFor(() => problems.length > 0, 10_000, 'the setup problem');
  t.match(problems[0], /WRONGPASS/, `reported: ${problems[0]}`);
  t.notOk(problems.some((p) => p.includes(WRONG) || p.includes(PASSWORD)), 'without a password');
}

if (!redisServerInstalled()) {
  missing(t, 'redis-server is not installed (the login tests start their own)');
} else {
  t.setTimeout(180_000);
  t.test('Sentinel with requirepass on the nodes and on the sentinels', async (t) => {
    const group = await startSentinelGroup(t, 1, 1, { password: PASSWORD, sentinelPassword: SENTINEL_PASSWORD });
    const sentinels = group.sentinels.map((s) => s.address);
    await rightAndWrong(t, { sentinels, name: group.name, password: '${CP_REDIS_PASSWORD}', sentinelPassword: SENTINEL_PASSWORD });
    await t.test('a wrong sentinel password is reported too', (t) => wrongSentinelPassword(t, group.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })), group.name));
  });
  t.test('a three-master Cluster with requirepass (and masterauth)', async (t) => {
    const cluster = await startRedisCluster(t, 3, { password: PASSWORD });
    await rightAndWrong(t, { cluster: cluster.masters.map((m) => m.address), password: '${CP_REDIS_PASSWORD}' });
  });
}

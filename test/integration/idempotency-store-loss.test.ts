// Store-loss detection (SPEC §9 rev 2) with a real `custody-proxy serve` and a private redis-server
// without persistence, restarted by its PID (the machine's Redis is never touched): the restart is
// noticed within a second, logged and counted; `refuse` answers keyed requests 503 (a completed key is
// never executed again) until the loss is acknowledged by `POST /admin/idempotency/ack-loss` or by
// `custody-proxy store ack-loss`; `continue` goes on at once; unkeyed traffic is never affected.
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { bearer, credentialsYaml, type KeySpec } from '../helpers/credentials.js';
import { startUpstream } from '../helpers/recording-upstream.js';
import { assertProxyError, call, executions, type CallSpec } from '../helpers/proxy-calls.js';
import { missing, redisServerInstalled, startPrivateRedis, type PrivateRedis } from '../helpers/redis-server.js';
import { spawnProxy, type SpawnedProxy } from '../helpers/spawn-proxy.js';
import { gate, waitFor } from '../helpers/waits.js';

const A: KeySpec = { keyId: 'ck_test_loss_a', tenant: 'tnt_loss', secret: 'sk_test_loss_a_secret' };
const TOKEN = 'admin-token-for-store-loss-tests';
const BIN = path.resolve('bin/custody-proxy.js');

function keyed(key: string | undefined): CallSpec {
  const headers: Array<readonly [string, string]> = [['Authorization', bearer(A)], ['Content-Type', 'application/json']];
  if (key !== undefined) headers.push(['Idempotency-Key', key]);
  return { method: 'POST', path: '/v1/transfers', body: '{"amount":1}', headers, timeoutMs: 10_000 };
}

const losses = async (p: SpawnedProxy): Promise<number> => {
  const text = (await call(p.adminUrl, { path: '/metrics' })).text;
  return Number(/^custody_proxy_idempotency_store_losses_total (\d+)/m.exec(text)?.[1] ?? NaN);
};

/** `settle: false` returns as soon as the restarted Redis answers, before the loss was necessarily seen. */
async function lossScenario(t: Test, redis: PrivateRedis, mode: 'refuse' | 'continue', { settle = true } = {}) {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const scratch = mkdtempSync(path.join(tmpdir(), 'custody-proxy-loss-'));
  t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
  writeFileSync(path.join(scratch, 'admin-token'), TOKEN);
  const prefix = `loss-${mode}-${randomUUID()}:`;
  const proxy = await spawnProxy(t, {
    upstreamUrl: upstream.url,
    credentialsYaml: credentialsYaml([{ id: A.tenant }], [A]),
    config: {
      admin: { listen: '127.0.0.1:0', tokenFile: path.join(scratch, 'admin-token') },
      idempotency: { store: 'redis', redis: { url: redis.url, keyPrefix: prefix }, onStoreLoss: mode },
    },
    startTimeoutMs: 60_000,
  });
  const done = `done-${randomUUID()}`;
  t.equal((await call(proxy.url, keyed(done))).status, 200, 'a key completes before the loss');
  // Give every replica time to see the marker before Redis forgets it.
  await new Promise((r) => setTimeout(r, 600));
  await redis.stop();
  await redis.start();
  const restartedAt = Date.now();
  if (!settle) return { upstream, proxy, done, prefix, scratch };
  await waitFor(async () => (await losses(proxy)) === 1, 5000, 'the loss to be counted');
  t.ok(Date.now() - restartedAt < 2000, `noticed within about a second (${Date.now() - restartedAt} ms)`);
  t.ok(proxy.logLines().some((l) => (l['level'] === 'error' || l['level'] === 50) && String(l['msg']).includes('idempotency store lost its records')), 'logged at error');
  return { upstream, proxy, done, prefix, scratch };
}

if (!redisServerInstalled()) {
  missing(t, 'redis-server is not installed (the store-loss tests start their own)');
} else {
  t.setTimeout(180_000);
  const redis = await startPrivateRedis(t);

  t.test('refuse: after a Redis restart keyed requests get 503 until the admin endpoint acknowledges', async (t) => {
    const { upstream, proxy, done } = await lossScenario(t, redis, 'refuse');
    assertProxyError(t, await call(proxy.url, keyed(done)), 503, 'IDEMPOTENCY_STORE_UNAVAILABLE', 'a retry of the completed key');
    assertProxyError(t, await call(proxy.url, keyed(`new-${randomUUID()}`)), 503, 'IDEMPOTENCY_STORE_UNAVAILABLE', 'a new key');
    t.equal(executions(upstream.requests, done), 1, 'the completed key is not executed again');
    t.equal((await call(proxy.url, keyed(undefined))).status, 200, 'unkeyed traffic is unaffected');
    const denied = await call(proxy.adminUrl, { method: 'POST', path: '/admin/idempotency/ack-loss' });
    t.equal(denied.status, 401, 'the acknowledgement needs the admin token');
    const ack = await call(proxy.adminUrl, { method: 'POST', path: '/admin/idempotency/ack-loss', headers: [['Authorization', `Bearer ${TOKEN}`]] });
    t.equal(ack.status, 200);
    t.same(ack.json(), { acknowledged: true });
    const fresh = `fresh-${randomUUID()}`;
    await waitFor(async () => (await call(proxy.url, keyed(fresh))).status === 200, 5000, 'keyed requests to resume');
    t.equal(executions(upstream.requests, fresh), 1, 'a new key executes once after the acknowledgement');
    t.equal(await losses(proxy), 1, 'one loss counted');
  });

  t.test('refuse: a retry sent the moment the empty Redis answers is refused, never executed again', async (t) => {
    const { upstream, proxy, done } = await lossScenario(t, redis, 'refuse', { settle: false });
    // Retries back to back while the proxy reconnects and reads the marker: without the check on each
    // new connection, one lands between the reconnection and the next poll and executes again.
    const statuses = new Set<number>();
    for (const until = Date.now() + 3000; Date.now() < until && executions(upstream.requests, done) === 1;) {
      statuses.add((await call(proxy.url, keyed(done))).status);
    }
    t.same([...statuses], [503], 'every retry refused');
    t.equal(executions(upstream.requests, done), 1, 'the completed key is not executed again');
  });

  t.test('refuse: `custody-proxy store ack-loss --config FILE` acknowledges for every replica', async (t) => {
    const { upstream, proxy } = await lossScenario(t, redis, 'refuse');
    assertProxyError(t, await call(proxy.url, keyed(`x-${randomUUID()}`)), 503, 'IDEMPOTENCY_STORE_UNAVAILABLE', 'refused before the acknowledgement');
    const cli = spawnSync(process.execPath, [BIN, 'store', 'ack-loss', '--config', path.join(proxy.dir, 'custody-proxy.yaml')], { encoding: 'utf8', timeout: 20_000 });
    t.equal(cli.status, 0, `exit 0 (${cli.stderr})`);
    t.match(cli.stdout, /^acknowledged/);
    const fresh = `fresh-${randomUUID()}`;
    await waitFor(async () => (await call(proxy.url, keyed(fresh))).status === 200, 5000, 'keyed requests to resume');
    t.equal(executions(upstream.requests, fresh), 1);
    const usage = spawnSync(process.execPath, [BIN, 'store', 'forget'], { encoding: 'utf8', timeout: 20_000 });
    t.equal(usage.status, 2, 'an unknown store command is a usage error');
  });

  t.test('continue: the loss is logged and counted, and keyed requests go on', async (t) => {
    const { upstream, proxy } = await lossScenario(t, redis, 'continue');
    const fresh = `fresh-${randomUUID()}`;
    t.equal((await call(proxy.url, keyed(fresh))).status, 200, 'a keyed request right after the loss');
    t.equal(executions(upstream.requests, fresh), 1);

    // A request in flight across a loss: its completion is refused (the claim is gone), and that is
    // counted and logged, never counted as stored.
    const held = gate();
    t.teardown(() => held.open());
    upstream.handler = (_req, res) => void held.wait.then(() => res.end('{"late":true}'));
    const inFlight = `in-flight-${randomUUID()}`;
    const answer = call(proxy.url, keyed(inFlight));
    await waitFor(() => executions(upstream.requests, inFlight) === 1, 5000, 'the upstream to receive it');
    await redis.stop();
    await redis.start();
    await waitFor(async () => (await losses(proxy)) === 2, 5000, 'the second loss to be counted');
    held.open();
    t.equal((await answer).status, 200, 'the client gets its answer');
    const text = (await call(proxy.adminUrl, { path: '/metrics' })).text;
    t.match(text, /^custody_proxy_idempotency_store_events_total\{event="not_stored"\} 1$/m, 'counted as a store event');
    t.notMatch(text, /^custody_proxy_idempotency_total\{outcome="not_stored"\}/m, 'not as a request outcome');
    t.ok(proxy.logLines().some((l) => String(l['msg']).startsWith('idempotency record not stored')), 'and logged');
  });
}

// Issue 5 (e) and the §9 "store unreachable" row with a real `custody-proxy serve` process and a private
// redis-server (started on a free port, stopped/paused/restarted by its PID; the machine's Redis is never
// touched): keyed → 503 IDEMPOTENCY_STORE_UNAVAILABLE + Retry-After and no upstream call, unkeyed still
// served, /readyz stays 200 and reports the store down (SPEC §11 rev 2: a store outage must not take
// every replica out of the Service), recovery when Redis returns; a Redis that stops answering (SIGSTOP) too.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { bearer, credentialsYaml, type KeySpec } from '../helpers/credentials.js';
import { startUpstream, type UpstreamHandler } from '../helpers/recording-upstream.js';
import { assertProxyError, call, executions, type CallReply, type CallSpec } from '../helpers/proxy-calls.js';
import { missing, redisServerInstalled, startPrivateRedis } from '../helpers/redis-server.js';
import { spawnProxy, type SpawnedProxy } from '../helpers/spawn-proxy.js';
import { gate, waitFor, type Gate } from '../helpers/waits.js';

const A: KeySpec = { keyId: 'ck_test_outage_a', tenant: 'tnt_a', secret: 'sk_test_outage_a_secret' };
const CREDENTIALS = credentialsYaml([{ id: 'tnt_a' }], [A]);
const newKey = (label: string): string => `${label}-${randomUUID()}`;
const answerOk: UpstreamHandler = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{"ok":true}');
};

function keyed(key: string | undefined, method = 'POST'): CallSpec {
  const headers: Array<readonly [string, string]> = [['Authorization', bearer(A)], ['Content-Type', 'application/json']];
  if (key !== undefined) headers.push(['Idempotency-Key', key]);
  return { method, path: '/v1/transfers', body: '{"amount":3}', headers, timeoutMs: 20_000 };
}

async function readiness(proxy: SpawnedProxy): Promise<CallReply> {
  return call(proxy.adminUrl, { path: '/readyz', timeoutMs: 10_000 });
}

/**
 * /readyz is 200 whatever the store does; its body and custody_proxy_idempotency_store_up say whether it
 * is up. A probe waits only briefly for the store and otherwise reports the last known state, so the
 * change shows once a ping has settled (within the store's 1 s deadline): polled, bounded.
 */
async function assertStoreReported(t: Test, proxy: SpawnedProxy, up: boolean, what: string): Promise<void> {
  const statuses: number[] = [];
  await waitFor(async () => {
    const ready = await readiness(proxy);
    statuses.push(ready.status);
    return ready.status !== 200 || JSON.stringify(ready.json()['idempotencyStore']) === JSON.stringify({ kind: 'redis', up });
  }, 10_000, `${what}: the store reported ${up ? 'up' : 'down'}`);
  t.same([...new Set(statuses)], [200], `${what}: /readyz 200 throughout`);
  const metrics = (await call(proxy.adminUrl, { path: '/metrics', timeoutMs: 10_000 })).text;
  t.match(metrics, new RegExp(`^custody_proxy_idempotency_store_up ${up ? 1 : 0}$`, 'm'), `${what}: custody_proxy_idempotency_store_up ${up ? 1 : 0}`);
}

/** Polls with the same key until the store answers again (anything but its 503); bounded, and says what it saw. */
async function recovered(t: Test, proxy: SpawnedProxy, key: string, what: string): Promise<CallReply> {
  const seen: string[] = [];
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await call(proxy.url, keyed(key));
    const code = r.status >= 400 ? String(r.json()['code']) : '';
    if (r.status !== 503 || code !== 'IDEMPOTENCY_STORE_UNAVAILABLE') {
      t.ok(r.status >= 200 && r.status < 300, `${what}: executes once the store answers (got ${r.status} ${code}; before: ${seen.length} × 503)`);
      return r;
    }
    seen.push(code);
    if (Date.now() > deadline) throw new Error(`${what}: still 503 after 20 s (${seen.length} tries)`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

t.setTimeout(180_000);

if (!redisServerInstalled()) {
  missing(t, 'redis-server is not installed (the outage tests start their own)');
} else {
  const redis = await startPrivateRedis(t);
  const upstream = await startUpstream();
  const gates: Gate[] = [];
  t.teardown(async () => {
    for (const g of gates) g.open();
    await upstream.close();
  });
  upstream.handler = answerOk;
  const proxy = await spawnProxy(t, {
    upstreamUrl: upstream.url,
    credentialsYaml: CREDENTIALS,
    // These tests restart a Redis without persistence: a store loss each time (idempotency-store-loss.test.ts
    // covers `refuse`). `continue` keeps them about outages: the loss is logged and traffic goes on.
    config: { idempotency: { store: 'redis', redis: { url: redis.url, keyPrefix: 'outage-test:' }, onStoreLoss: 'continue' } },
    startTimeoutMs: 60_000,
  });

  /** The upstream answers 201 with `body` once the returned gate opens (until the test ends). */
  const answerWhenOpened = (t: Test, body: string): Gate => {
    const g = gate();
    gates.push(g);
    upstream.handler = (_req, res) => {
      void g.wait.then(() => {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(body);
      });
    };
    t.teardown(() => {
      upstream.handler = answerOk;
    });
    return g;
  };

  const before = newKey('before');

  t.test('healthy: keyed requests execute once and replay; /readyz 200', async (t) => {
    const first = await call(proxy.url, keyed(before));
    t.equal(first.status, 200);
    const again = await call(proxy.url, keyed(before));
    t.equal(again.headers['idempotent-replayed'], 'true', 'replayed');
    t.equal(executions(upstream.requests, before), 1, 'one execution');
    await assertStoreReported(t, proxy, true, 'healthy');
  });

  t.test('(e) Redis stopped → keyed 503 with Retry-After and no upstream call; unkeyed served; still ready; recovery', async (t) => {
    const pid = redis.pid();
    await redis.stop();
    t.equal(redis.pid(), undefined, `redis-server pid ${pid ?? '?'} stopped`);
    const callsBefore = upstream.requests.length;

    const down = newKey('down');
    for (const method of ['POST', 'PUT', 'PATCH']) {
      const r = await call(proxy.url, keyed(down, method));
      assertProxyError(t, r, 503, 'IDEMPOTENCY_STORE_UNAVAILABLE', `${method} with a new key`);
      t.match(r.headers['retry-after'] ?? '', /^[1-9]\d*$/, `${method}: Retry-After`);
      t.ok(r.ms < 3000, `${method}: fails fast (${r.ms} ms)`);
    }
    assertProxyError(t, await call(proxy.url, keyed(before)), 503, 'IDEMPOTENCY_STORE_UNAVAILABLE', 'a key completed before the outage');
    t.equal(upstream.requests.length, callsBefore, 'no keyed request reached the upstream');

    const unkeyed = await call(proxy.url, keyed(undefined));
    t.equal(unkeyed.status, 200, 'an unkeyed POST is still served');
    const get = await call(proxy.url, { ...keyed(newKey('get'), 'GET'), body: undefined });
    t.equal(get.status, 200, 'a GET (header ignored) is still served');
    t.equal(upstream.requests.length, callsBefore + 2, 'exactly those two reached the upstream');
    t.equal(executions(upstream.requests, down, before), 1, 'no keyed execution during the outage (the one is from before it)');

    await assertStoreReported(t, proxy, false, 'Redis down');
    t.equal((await call(proxy.adminUrl, { path: '/healthz' })).status, 200, '/healthz stays 200');

    await redis.start();
    const back = await recovered(t, proxy, down, 'keyed requests recover');
    t.notOk(back.headers['idempotent-replayed'], 'the first success is an execution');
    t.equal(executions(upstream.requests, down), 1, 'the key executed once: none of the 503s reached the upstream');
    t.equal((await call(proxy.url, keyed(down))).headers['idempotent-replayed'], 'true', 'and replays afterwards');
    await assertStoreReported(t, proxy, true, 'Redis back');
  });

  t.test('a request in flight when Redis stops still gets its response; the unsettled record is logged', async (t) => {
    const g = answerWhenOpened(t, '{"created":"during-outage"}');
    const key = newKey('in-flight');
    const pending = call(proxy.url, keyed(key));
    await waitFor(() => executions(upstream.requests, key) === 1, 20_000, 'the request to reach the upstream');
    await redis.stop();
    g.open();
    const r = await pending;
    t.equal(r.status, 201, 'the client gets the upstream answer');
    t.equal(r.text, '{"created":"during-outage"}');
    await waitFor(() => proxy.stdout().includes('idempotency record not settled'), 10_000, 'the error log line');
    t.pass('the unsettled record is logged');
    t.equal(executions(upstream.requests, key), 1, 'one execution');
    assertProxyError(t, await call(proxy.url, keyed(key)), 503, 'IDEMPOTENCY_STORE_UNAVAILABLE', 'a duplicate while Redis is down');
    t.equal(executions(upstream.requests, key), 1, 'still one');
    upstream.handler = answerOk;
    await redis.start();
    await recovered(t, proxy, newKey('after-in-flight'), 'recovery');
  });

  t.test('a Redis that stops answering (SIGSTOP) → 503 after about 1 s, no upstream call; the late claim is undone', async (t) => {
    const key = newKey('paused');
    const pausedAt = Date.now();
    redis.pause();
    let resumed = false;
    t.teardown(() => {
      if (!resumed) redis.resume();
    });
    const r = await call(proxy.url, keyed(key));
    assertProxyError(t, r, 503, 'IDEMPOTENCY_STORE_UNAVAILABLE', 'keyed request to a silent Redis');
    t.ok(r.ms >= 800 && r.ms < 5000, `answered after the ~1 s deadline (${r.ms} ms)`);
    t.equal(executions(upstream.requests, key), 0, 'not forwarded');
    const unkeyed = await call(proxy.url, keyed(undefined));
    t.equal(unkeyed.status, 200, 'unkeyed still served');
    await assertStoreReported(t, proxy, false, 'Redis silent');
    // Long enough for the client to drop the stalled connection (socket timeout 2 s after the last write),
    // so any reply to the claim or its undo is never read: the undo must not depend on one.
    await sleep(Math.max(0, pausedAt + 4500 - Date.now()));
    redis.resume();
    resumed = true;
    // If the claim that reached Redis late had not been undone, this key would be stuck in flight
    // (409, then 502 after the lease) instead of executing.
    const back = await recovered(t, proxy, key, 'the same key after Redis answers again');
    t.notOk(back.headers['idempotent-replayed'], 'executed, not replayed');
    t.equal(executions(upstream.requests, key), 1, 'exactly one execution');
    await assertStoreReported(t, proxy, true, 'Redis answers again');
  });

  t.test('no burned keys: 16 keys sent into a 3.5 s stall all execute once when retried after it (SPEC §9 rev 2)', async (t) => {
    // Claims sent while the stalled connection still looks alive time out after it has been dropped:
    // their undo cannot go out then, and must be retried until Redis takes it.
    const keys = Array.from({ length: 16 }, (_, i) => newKey(`stall-${i}`));
    const pausedAt = Date.now();
    redis.pause();
    let resumed = false;
    t.teardown(() => {
      if (!resumed) redis.resume();
    });
    const answers = await Promise.all(keys.map(async (key, i) => {
      await sleep(i * 150);
      return call(proxy.url, keyed(key));
    }));
    for (const r of answers) assertProxyError(t, r, 503, 'IDEMPOTENCY_STORE_UNAVAILABLE', 'sent into the stall');
    await sleep(Math.max(0, pausedAt + 3500 - Date.now()));
    redis.resume();
    resumed = true;
    await waitFor(async () => JSON.stringify((await readiness(proxy)).json()['idempotencyStore']) === '{"kind":"redis","up":true}', 10_000, 'the store answers again');
    const retries = await Promise.all(keys.map((key) => recovered(t, proxy, key, 'retry after the stall')));
    t.same(retries.map((r) => r.status), keys.map(() => 200), 'every key executes: none is stuck in flight (409) or lost (502)');
    t.same(keys.map((key) => executions(upstream.requests, key)), keys.map(() => 1), 'each exactly once');
  });

  t.test('no lost answers: an answer that could not be stored during a stall is stored once Redis answers (SPEC §9 rev 2)', async (t) => {
    const g = answerWhenOpened(t, '{"created":"during-stall"}');
    const key = newKey('stalled-answer');
    const pending = call(proxy.url, keyed(key));
    await waitFor(() => executions(upstream.requests, key) === 1, 20_000, 'the request to reach the upstream');
    redis.pause();
    let resumed = false;
    t.teardown(() => {
      if (!resumed) redis.resume();
    });
    // The answer comes once the client has dropped the stalled connection (2 s socket timeout, armed by
    // the probe's claim): the first completion is never even sent, so only a retry can store it.
    const probe = await call(proxy.url, keyed(newKey('probe')));
    assertProxyError(t, probe, 503, 'IDEMPOTENCY_STORE_UNAVAILABLE', 'a probe into the stall');
    await sleep(2500);
    g.open();
    const r = await pending;
    t.equal(r.status, 201, 'the client gets the upstream answer during the stall');
    await sleep(1500);
    redis.resume();
    resumed = true;
    // Until the retried completion lands a duplicate may find the record in flight (409): never 502.
    let dup: CallReply | undefined;
    const seen: number[] = [];
    await waitFor(async () => {
      dup = await call(proxy.url, keyed(key));
      seen.push(dup.status);
      return dup.status !== 503 && dup.status !== 409;
    }, 15_000, 'the stored answer', 200);
    t.notOk(seen.includes(502), `never 502 UPSTREAM_OUTCOME_UNKNOWN (saw ${seen.join(' ')})`);
    t.equal(dup?.status, 201, 'the duplicate gets the stored answer');
    t.equal(dup?.headers['idempotent-replayed'], 'true', 'as a replay');
    t.equal(dup?.text, '{"created":"during-stall"}');
    t.equal(executions(upstream.requests, key), 1, 'one execution');
  });
}

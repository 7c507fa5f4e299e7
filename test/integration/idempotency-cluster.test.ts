// Redis Cluster (SPEC §9 rev 2 topologies) with three private masters: the store contract on a
// Cluster; a real `custody-proxy serve` with `redis.cluster` whose keys land on every master
// (duplicates replay, conflicts 422, in-progress 409, one execution per key); store loss on a Cluster:
// every master flushed in turn is noticed (a marker per master), `custody-proxy store ack-loss` and the
// admin endpoint write the fresh epoch on every master, and a master restarted empty is checked before
// the first claim on it; and WAIT routed to the master of the key's slot (only one master has a
// replica: claims there pass `waitReplicas: 1`, claims elsewhere fail closed).
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { sha256Hex, makeFingerprint } from '../../src/idempotency/fingerprint.js';
import { RedisStore } from '../../src/idempotency/redis-store.js';
import { StoreUnavailableError } from '../../src/idempotency/store.js';
import { runStoreContract } from '../contract/store-contract.js';
import { bearer, credentialsYaml, type KeySpec } from '../helpers/credentials.js';
import { assertProxyError, call, executions, startCall, type CallSpec } from '../helpers/proxy-calls.js';
import { startUpstream, type RecordingUpstream } from '../helpers/recording-upstream.js';
import { missing, redisServerInstalled } from '../helpers/redis-server.js';
import { addClusterReplica, startRedisCluster, type RedisClusterNodes, type RedisNodeProcess } from '../helpers/redis-topologies.js';
import { spawnProxy, type SpawnedProxy } from '../helpers/spawn-proxy.js';
import { gate, waitFor } from '../helpers/waits.js';

const A: KeySpec = { keyId: 'ck_test_cluster_a', tenant: 'tnt_cluster', secret: 'sk_test_cluster_a_secret' };
const BIN = path.resolve('bin/custody-proxy.js');
const TOKEN = 'admin-token-for-cluster-tests';

function keyed(key: string, body = '{"amount":3}'): CallSpec {
  const headers: Array<readonly [string, string]> = [['Authorization', bearer(A)], ['Content-Type', 'application/json'], ['Idempotency-Key', key]];
  return { method: 'POST', path: '/v1/transfers', body, headers, timeoutMs: 10_000 };
}

const recordKey = (prefix: string, tenant: string, key: string): string => `${prefix}idem:{${tenant}:${sha256Hex(key)}}`;

const losses = async (p: SpawnedProxy): Promise<number> => {
  const text = (await call(p.adminUrl, { path: '/metrics' })).text;
  return Number(/^custody_proxy_idempotency_store_losses_total (\d+)/m.exec(text)?.[1] ?? NaN);
};

/** Every master's store-loss markers (`<prefix>marker:{tag}`) and their values. */
async function markers(cluster: RedisClusterNodes, prefix: string): Promise<Array<{ port: number; values: Array<string | null> }>> {
  return Promise.all(cluster.masters.map(async (m) => {
    const keys = await m.client.keys(`${prefix}marker:*`);
    return { port: m.port, values: await Promise.all(keys.map((k) => m.client.get(k))) };
  }));
}

/** `perMaster` fresh keys for every master, each with the master its record lands on. */
async function keysOnEveryMaster(cluster: RedisClusterNodes, prefix: string, tenant: string, perMaster: number): Promise<Array<{ key: string; master: RedisNodeProcess }>> {
  const out: Array<{ key: string; master: RedisNodeProcess }> = [];
  for (let i = 0; i < 500 && cluster.masters.some((m) => out.filter((k) => k.master === m).length < perMaster); i++) {
    const key = `k-${randomUUID()}`;
    const master = await cluster.masterOf(recordKey(prefix, tenant, key));
    if (out.filter((k) => k.master === master).length < perMaster) out.push({ key, master });
  }
  if (out.length !== perMaster * cluster.masters.length) throw new Error('keys did not spread over the masters');
  return out;
}

async function proxyScenarios(t: Test, cluster: RedisClusterNodes): Promise<void> {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const prefix = `cluster-${randomUUID()}:`;
  const scratch = mkdtempSync(path.join(tmpdir(), 'custody-proxy-cluster-'));
  t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
  writeFileSync(path.join(scratch, 'admin-token'), TOKEN);
  const proxy = await spawnProxy(t, {
    upstreamUrl: upstream.url,
    credentialsYaml: credentialsYaml([{ id: A.tenant }], [A]),
    config: {
      admin: { listen: '127.0.0.1:0', tokenFile: path.join(scratch, 'admin-token') },
      idempotency: { store: 'redis', redis: { cluster: cluster.masters.map((m) => m.address), keyPrefix: prefix } },
    },
    startTimeoutMs: 60_000,
  });
  const keys = await keysOnEveryMaster(cluster, prefix, A.tenant, 2);

  await t.test('keys on every master: one execution, replays, conflicts', async (t) => {
    for (const { key, master } of keys) {
      const first = await call(proxy.url, keyed(key));
      t.equal(first.status, 200, `first ${key}`);
      t.equal(await master.client.exists(recordKey(prefix, A.tenant, key)), 1, `the record is on master ${master.port}`);
      const replay = await call(proxy.url, keyed(key));
      t.equal(replay.headers['idempotent-replayed'], 'true', 'the duplicate is a replay');
      t.ok(replay.body.equals(first.body), 'with the same body');
      assertProxyError(t, await call(proxy.url, keyed(key, '{"amount":4}')), 422, 'IDEMPOTENCY_CONFLICT', 'another body');
      t.equal(executions(upstream.requests, key), 1, 'one execution');
    }
  });

  await t.test('a duplicate while the first is in flight gets 409, on every master', async (t) => {
    const open = gate();
    upstream.handler = (_req, res) => void open.wait.then(() => res.writeHead(201, { 'content-type': 'application/json' }).end('{"late":true}'));
    t.teardown(() => open.open());
    const fresh = await keysOnEveryMaster(cluster, prefix, A.tenant, 1);
    const firsts = fresh.map(({ key }) => startCall(proxy.url, keyed(key)).reply);
    await waitFor(() => fresh.every(({ key }) => executions(upstream.requests, key) === 1), 10_000, 'every first request at the upstream');
    for (const { key } of fresh) assertProxyError(t, await call(proxy.url, keyed(key)), 409, 'IDEMPOTENCY_IN_PROGRESS', `duplicate of ${key}`);
    open.open();
    for (const reply of await Promise.all(firsts)) t.equal(reply.status, 201);
    for (const { key } of fresh) {
      t.equal((await call(proxy.url, keyed(key))).headers['idempotent-replayed'], 'true', 'then a replay');
      t.equal(executions(upstream.requests, key), 1);
    }
  });

  await t.test('a flushed master (the one a single marker key would be on): keyed 503 until `store ack-loss`', async (t) => {
    upstream.handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    await new Promise((r) => setTimeout(r, 600)); // every poll has seen the marker
    const markerMaster = await cluster.masterOf(`${prefix}marker`);
    const lost = keys.find((k) => k.master === markerMaster);
    await markerMaster.client.flushall();
    const probe = `probe-${randomUUID()}`;
    await waitFor(async () => (await call(proxy.url, keyed(probe))).status === 503, 5000, 'the loss to be noticed');
    if (lost) assertProxyError(t, await call(proxy.url, keyed(lost.key)), 503, 'IDEMPOTENCY_STORE_UNAVAILABLE', 'a key whose record was flushed');
    if (lost) t.equal(executions(upstream.requests, lost.key), 1, 'is not executed again');
    const cli = spawnSync(process.execPath, [BIN, 'store', 'ack-loss', '--config', path.join(proxy.dir, 'custody-proxy.yaml')], { encoding: 'utf8', timeout: 20_000 });
    t.equal(cli.status, 0, `ack-loss exits 0 (${cli.stderr})`);
    await waitFor(async () => (await call(proxy.url, keyed(probe))).status === 200, 5000, 'keyed requests to resume');
    t.equal(executions(upstream.requests, probe), 1, 'the probe executed once, after the acknowledgement');
  });

  await t.test('every other master flushed in turn: noticed, nothing executed twice, acknowledged on every master', (t) =>
    otherMastersLost(t, cluster, prefix, proxy, upstream));

  await t.test('a master restarted empty: a retry sent the moment it answers is refused, never executed again', (t) =>
    restartedMaster(t, cluster, prefix, proxy, upstream));

  await t.test('SIGTERM exits 0: every node connection closes', async (t) => {
    t.equal((await proxy.kill('SIGTERM', 15_000)).code, 0);
  });
}

/**
 * The masters that do not hold `<prefix>marker` (where the store kept its only marker before markers
 * per master), each flushed in turn: the loss is counted and logged, keyed requests on every master get
 * 503 and a key completed on the flushed master is not executed again, until the acknowledgement (the
 * admin endpoint, then the CLI) writes one fresh epoch on every master.
 */
async function otherMastersLost(t: Test, cluster: RedisClusterNodes, prefix: string, proxy: SpawnedProxy, upstream: RecordingUpstream): Promise<void> {
  upstream.handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  const oldMarkerMaster = await cluster.masterOf(`${prefix}marker`);
  const others = cluster.masters.filter((m) => m !== oldMarkerMaster);
  t.equal(others.length, cluster.masters.length - 1);
  for (const [i, master] of others.entries()) {
    const fresh = await keysOnEveryMaster(cluster, prefix, A.tenant, 1);
    const done = fresh.find((k) => k.master === master)?.key ?? '';
    const elsewhere = fresh.find((k) => k.master !== master)?.key ?? '';
    t.equal((await call(proxy.url, keyed(done))).status, 200, `a key completes on master ${master.port}`);
    await new Promise((r) => setTimeout(r, 600)); // every poll has seen every marker
    const before = await losses(proxy);
    await master.client.flushall();
    await waitFor(async () => (await losses(proxy)) === before + 1, 5000, `the loss of master ${master.port} to be counted`);
    assertProxyError(t, await call(proxy.url, keyed(done)), 503, 'IDEMPOTENCY_STORE_UNAVAILABLE', 'a retry of the key completed on the flushed master');
    t.equal(executions(upstream.requests, done), 1, 'is not executed again');
    assertProxyError(t, await call(proxy.url, keyed(elsewhere)), 503, 'IDEMPOTENCY_STORE_UNAVAILABLE', 'a key on another master is refused too');
    t.equal(executions(upstream.requests, elsewhere), 0, 'and not executed');
    if (i % 2 === 0) {
      const ack = await call(proxy.adminUrl, { method: 'POST', path: '/admin/idempotency/ack-loss', headers: [['Authorization', `Bearer ${TOKEN}`]] });
      t.equal(ack.status, 200, 'acknowledged by the admin endpoint');
    } else {
      const cli = spawnSync(process.execPath, [BIN, 'store', 'ack-loss', '--config', path.join(proxy.dir, 'custody-proxy.yaml')], { encoding: 'utf8', timeout: 20_000 });
      t.equal(cli.status, 0, `acknowledged by store ack-loss (${cli.stderr})`);
    }
    const written = await markers(cluster, prefix);
    const epoch = written[0]?.values[0];
    t.match(epoch, /^ok:/, 'a fresh epoch');
    t.same(written, cluster.masters.map((m) => ({ port: m.port, values: [epoch] })), 'on every master, one marker each');
    const probe = `probe-${randomUUID()}`;
    await waitFor(async () => (await call(proxy.url, keyed(probe))).status === 200, 5000, 'keyed requests to resume');
    t.equal(executions(upstream.requests, probe), 1, 'a new key executes once after the acknowledgement');
  }
  t.ok(proxy.logLines().some((l) => (l['level'] === 'error' || l['level'] === 50) && String(l['msg']).includes('idempotency store lost its records')), 'logged at error');
}

/**
 * A master SIGKILLed and started again empty (same port, its slots kept by nodes.conf) while a key
 * completed on it is retried back to back: the proxy opens a new connection to that master, and no
 * retry may be claimed on it before its marker was read there (not only at the next poll).
 */
async function restartedMaster(t: Test, cluster: RedisClusterNodes, prefix: string, proxy: SpawnedProxy, upstream: RecordingUpstream): Promise<void> {
  const master = cluster.masters[cluster.masters.length - 1];
  if (!master) throw new Error('no master');
  const done = (await keysOnEveryMaster(cluster, prefix, A.tenant, 1)).find((k) => k.master === master)?.key ?? '';
  t.equal((await call(proxy.url, keyed(done))).status, 200, `a key completes on master ${master.port}`);
  await new Promise((r) => setTimeout(r, 600));
  const before = await losses(proxy);
  const restarting = master.restart();
  const statuses = new Set<number>();
  let restarted = false;
  void restarting.then(() => (restarted = true));
  // Until 3 s after the master answers again, or until the key executes a second time.
  for (let until = Infinity; Date.now() < until && executions(upstream.requests, done) === 1;) {
    if (restarted && until === Infinity) until = Date.now() + 3000;
    statuses.add((await call(proxy.url, keyed(done))).status);
  }
  await restarting;
  t.same([...statuses], [503], 'every retry refused');
  t.equal(executions(upstream.requests, done), 1, 'the completed key is not executed again');
  await waitFor(async () => (await losses(proxy)) === before + 1, 5000, 'the loss to be counted');
  const ack = await call(proxy.adminUrl, { method: 'POST', path: '/admin/idempotency/ack-loss', headers: [['Authorization', `Bearer ${TOKEN}`]] });
  t.equal(ack.status, 200, 'acknowledged');
  const probe = `probe-${randomUUID()}`;
  await waitFor(async () => (await call(proxy.url, keyed(probe))).status === 200, 10_000, 'keyed requests to resume');
}

async function waitRouting(t: Test, cluster: RedisClusterNodes): Promise<void> {
  const [withReplica] = cluster.masters;
  if (!withReplica) throw new Error('no master');
  const replica = await addClusterReplica(t, cluster, withReplica);
  const prefix = `cluster-wait-${randomUUID()}:`;
  const tenant = 'tnt_wait';
  const store = new RedisStore({ cluster: cluster.masters.map((m) => ({ host: '127.0.0.1', port: m.port })), keyPrefix: prefix, waitReplicas: 1 });
  t.teardown(() => store.close());
  const fp = makeFingerprint('POST', '/v1/x', Buffer.from('b'));
  await replica.client.readonly();
  for (const { key, master } of await keysOnEveryMaster(cluster, prefix, tenant, 2)) {
    const record = recordKey(prefix, tenant, key);
    const claim = store.claim(tenant, key, fp, { ttlMs: 30_000, leaseMs: 10_000 });
    if (master === withReplica) {
      t.equal((await claim).kind, 'claimed', `a key on master ${master.port} (one replica) is claimed`);
      t.equal(await replica.client.exists(record), 1, 'and its replica already has the record');
    } else {
      await t.rejects(claim, StoreUnavailableError, `a key on master ${master.port} (no replica) fails closed`);
      await waitFor(async () => store.pendingUndos === 0 && (await master.client.exists(record)) === 0, 5000, 'the claim to be undone');
    }
  }
}

if (!redisServerInstalled()) {
  missing(t, 'redis-server is not installed (the Cluster tests start their own)');
} else {
  t.setTimeout(120_000);
  const cluster = await startRedisCluster(t, 3);
  const nodes = cluster.masters.map((m) => ({ host: '127.0.0.1', port: m.port }));
  runStoreContract(t, 'redis cluster', async () => new RedisStore({ cluster: nodes, keyPrefix: `contract-${randomUUID()}:` }));
  t.test('custody-proxy serve on a Cluster', (t) => proxyScenarios(t, cluster));
  t.test('WAIT goes to the master of the key slot', (t) => waitRouting(t, cluster));
}

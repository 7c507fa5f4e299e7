// Redis over TLS for Sentinel and Cluster (SPEC §3 idempotency.redis tls + caFile), against private
// TLS-only redis-server processes (no plain port; replication, the cluster bus and Sentinel over TLS)
// whose certificates a test CA signed: a real `custody-proxy serve` with `tls: true`, the CA file and a
// password serves keyed requests through Sentinel; a Cluster store with the CA claims keys on every
// master; a rediss:// url with caFile works, and without it (system roots) the store is down and the
// untrusted certificate is reported. A proxy whose caFile is another CA's, on Sentinel or on Cluster:
// keyed requests get 503 and never reach the upstream, and the log line names the certificate problem
// (ioredis drops that error on these paths: redis-tls-probe.ts finds it again).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import { makeFingerprint } from '../../src/idempotency/fingerprint.js';
import { RedisStore } from '../../src/idempotency/redis-store.js';
import { StoreUnavailableError } from '../../src/idempotency/store.js';
import { missing, redisServerInstalled } from '../helpers/redis-server.js';
import { startRedisCluster, startSentinelGroup, type NodeSecurity } from '../helpers/redis-topologies.js';
import { downForASetupProblem, noPasswordIn, proxyWithPassword, startLoginUpstream, worksWithTheRightPassword } from '../helpers/redis-login.js';
import { makeCa } from '../helpers/test-certificates.js';
import { waitFor } from '../helpers/waits.js';

const PASSWORD = 'tls-redis-pw-93c0d2';

type Nodes = Array<{ host: string; port: number }>;

// Node's words for a chain it cannot verify (which one depends on whether the server sends its CA).
const UNTRUSTED = /self[- ]signed|unable to (verify|get local issuer)/i;

/** A proxy on `redis` with tls: true but another CA's caFile: down for keyed requests, and saying why. */
async function untrustedCa(t: Test, redis: Record<string, unknown>, otherCaFile: string): Promise<void> {
  const upstream = await startLoginUpstream(t);
  const proxy = await proxyWithPassword(t, upstream, { ...redis, password: '${CP_REDIS_PASSWORD}', tls: true, caFile: otherCaFile }, PASSWORD);
  await downForASetupProblem(t, proxy, upstream, UNTRUSTED);
  t.notOk(upstream.requests.some((r) => r.headers['idempotency-key'] !== undefined), 'no keyed request reached the upstream');
  t.equal((await proxy.kill('SIGTERM', 15_000)).code, 0, 'SIGTERM exits 0');
  noPasswordIn(t, proxy, PASSWORD);
}

/** One server by rediss:// URL: caFile's CA is used; without it the certificate is reported. */
async function oneServer(t: Test, port: number, ca: Buffer): Promise<void> {
  const url = `rediss://:${PASSWORD}@127.0.0.1:${port}`;
  const trusted = new RedisStore({ url, ca, keyPrefix: `tls-${randomUUID()}:` });
  t.teardown(() => trusted.close());
  await trusted.ping();
  t.pass('with the CA the store answers');
  const problems: string[] = [];
  const store = new RedisStore({ url, keyPrefix: `tls-${randomUUID()}:`, onSetupProblem: (p) => problems.push(p) });
  t.teardown(() => store.close());
  await t.rejects(store.ping(), StoreUnavailableError, 'without the CA the store is unavailable');
  await waitFor(() => problems.length > 0, 10_000, 'the certificate problem');
  t.match(problems[0], /certificate/i, `reported: ${problems[0]}`);
  t.notOk(problems.some((p) => p.includes(PASSWORD)), 'without the password');
}

async function clusterOverTls(t: Test, sec: NodeSecurity, ca: Buffer, otherCaFile: string): Promise<void> {
  const cluster = await startRedisCluster(t, 3, sec);
  const nodes: Nodes = cluster.masters.map((m) => ({ host: '127.0.0.1', port: m.port }));
  const store = new RedisStore({ cluster: nodes, password: PASSWORD, tls: true, ca, keyPrefix: `tls-${randomUUID()}:` });
  t.teardown(() => store.close());
  const fp = makeFingerprint('POST', '/v1/x', Buffer.from('b'));
  for (let i = 0; i < 12; i++) {
    t.equal((await store.claim('tnt_tls', `k-${randomUUID()}`, fp, { ttlMs: 30_000, leaseMs: 10_000 })).kind, 'claimed', 'a claim over TLS');
  }
  const keysPerMaster = await Promise.all(cluster.masters.map((m) => m.client.dbsize()));
  t.ok(keysPerMaster.every((n) => n > 0), `records on every master (${keysPerMaster.join(', ')})`);
  const [first] = cluster.masters;
  if (first) await t.test('one of its nodes as one server (rediss://): with and without the CA', (t) => oneServer(t, first.port, ca));
  await t.test('a proxy whose caFile is another CA: store down, the certificate reported', (t) => untrustedCa(t, { cluster: cluster.masters.map((m) => m.address) }, otherCaFile));
}

if (!redisServerInstalled()) {
  missing(t, 'redis-server is not installed (the TLS tests start their own)');
} else {
  t.setTimeout(180_000);
  const ca = makeCa();
  t.teardown(() => ca.remove());
  // A CA that signed none of the servers' certificates.
  const otherCa = makeCa();
  t.teardown(() => otherCa.remove());
  // A client certificate too: Cluster nodes present theirs on the TLS cluster bus, which always checks it.
  const leaf = ca.issue('redis', '5e', { days: 2, clientAuth: true });
  const sec: NodeSecurity = { password: PASSWORD, tls: { certFile: leaf.certFile, keyFile: leaf.keyFile, caFile: ca.caFile } };

  t.test('Sentinel over TLS with a password: serve with tls: true and caFile', async (t) => {
    const group = await startSentinelGroup(t, 1, 1, sec);
    const upstream = await startLoginUpstream(t);
    const proxy = await proxyWithPassword(t, upstream, { sentinels: group.sentinels.map((s) => s.address), name: group.name, password: '${CP_REDIS_PASSWORD}', tls: true, caFile: ca.caFile }, PASSWORD);
    await t.test('keyed requests execute once and replay', (t) => worksWithTheRightPassword(t, proxy, upstream, 3));
    t.equal((await proxy.kill('SIGTERM', 15_000)).code, 0, 'SIGTERM exits 0');
    noPasswordIn(t, proxy, PASSWORD);
    const redis = { sentinels: group.sentinels.map((s) => s.address), name: group.name };
    await t.test('a proxy whose caFile is another CA: store down, the certificate reported', (t) => untrustedCa(t, redis, otherCa.caFile));
  });
  t.test('a Cluster over TLS with a password', (t) => clusterOverTls(t, sec, readFileSync(ca.caFile), otherCa.caFile));
}

// `redis.waitReplicas` (SPEC §9 rev 2) on one private master: without a replica a claim cannot be
// WAITed for, so a keyed request fails closed (503, the upstream sees nothing, the claim is undone);
// once a replica is attached (REPLICAOF) the same key executes once and its record, completed, is on
// the replica. A settle whose WAIT fails is reported as a store failure and succeeds once retried.
import { randomUUID } from 'node:crypto';
import t from 'tap';
import { makeFingerprint, sha256Hex } from '../../src/idempotency/fingerprint.js';
import { RedisStore } from '../../src/idempotency/redis-store.js';
import { StoreUnavailableError } from '../../src/idempotency/store.js';
import { bearer, credentialsYaml, type KeySpec } from '../helpers/credentials.js';
import { assertProxyError, call, executions, type CallSpec } from '../helpers/proxy-calls.js';
import { proxyFixture } from '../helpers/proxy-fixture.js';
import { missing, redisServerInstalled } from '../helpers/redis-server.js';
import { infoField, startRedisNode, type RedisNodeProcess } from '../helpers/redis-topologies.js';
import { waitFor } from '../helpers/waits.js';

const A: KeySpec = { keyId: 'ck_test_wait_a', tenant: 'tnt_wait', secret: 'sk_test_wait_a_secret' };
const PREFIX = `wait-${randomUUID()}:`;

function keyed(key: string | undefined): CallSpec {
  const headers: Array<readonly [string, string]> = [['Authorization', bearer(A)], ['Content-Type', 'application/json']];
  if (key !== undefined) headers.push(['Idempotency-Key', key]);
  return { method: 'POST', path: '/v1/transfers', body: '{"amount":5}', headers, timeoutMs: 10_000 };
}

const recordOf = (tenant: string, key: string): string => `${PREFIX}idem:{${tenant}:${sha256Hex(key)}}`;

async function attachReplica(master: RedisNodeProcess, replica: RedisNodeProcess): Promise<void> {
  await replica.client.replicaof('127.0.0.1', String(master.port));
  await waitFor(async () => (await infoField(replica.client, 'replication', 'master_link_status')) === 'up', 15_000, 'the replica to sync');
}

if (!redisServerInstalled()) {
  missing(t, 'redis-server is not installed (the waitReplicas tests start their own)');
} else {
  t.setTimeout(60_000);
  const master = await startRedisNode(t);
  const replica = await startRedisNode(t);
  const f = proxyFixture(t, {
    credentialsYaml: credentialsYaml([{ id: A.tenant }], [A]),
    config: { idempotency: { store: 'redis', redis: { url: `redis://127.0.0.1:${master.port}`, keyPrefix: PREFIX, waitReplicas: 1 } } },
  });

  t.test('no replica: a keyed request gets 503 and is never forwarded; with one it executes once', async (t) => {
    const key = `k-${randomUUID()}`;
    const started = Date.now();
    const refused = await call(f.proxy.url, keyed(key));
    assertProxyError(t, refused, 503, 'IDEMPOTENCY_STORE_UNAVAILABLE', 'a claim no replica has');
    t.ok(refused.headers['retry-after'], 'with Retry-After');
    t.ok(Date.now() - started < 2000, `within the store deadline (${Date.now() - started} ms)`);
    t.equal(f.upstream.requests.length, 0, 'the upstream received nothing');
    await waitFor(async () => (await master.client.exists(recordOf(A.tenant, key))) === 0, 5000, 'the claim to be undone');
    t.equal((await call(f.proxy.url, keyed(undefined))).status, 200, 'unkeyed requests are unaffected');

    await attachReplica(master, replica);
    const ok = await call(f.proxy.url, keyed(key));
    t.equal(ok.status, 200, 'the same key, once a replica is attached');
    t.notOk(ok.headers['idempotent-replayed'], 'executed, not replayed');
    t.equal(executions(f.upstream.requests, key), 1, 'executed once');
    t.equal(await replica.client.hget(recordOf(A.tenant, key), 'state'), 'completed', 'the replica holds the completed record');
    const replay = await call(f.proxy.url, keyed(key));
    t.equal(replay.headers['idempotent-replayed'], 'true', 'then replays');
    t.equal(executions(f.upstream.requests, key), 1, 'still once');
  });

  t.test('a settle whose WAIT fails rejects; retried once a replica is back, it succeeds', async (t) => {
    const store = new RedisStore({ url: `redis://127.0.0.1:${master.port}`, keyPrefix: PREFIX, waitReplicas: 1 });
    t.teardown(() => store.close());
    const tenant = `tnt-${randomUUID()}`;
    const fp = makeFingerprint('POST', '/v1/x', Buffer.from('b'));
    const claim = await store.claim(tenant, 'k', fp, { ttlMs: 30_000, leaseMs: 10_000 });
    if (claim.kind !== 'claimed') return t.fail(`claimed: ${claim.kind}`);
    t.equal(await replica.client.hget(recordOf(tenant, 'k'), 'state'), 'in_flight', 'the claim is on the replica');
    await replica.client.replicaof('NO', 'ONE');
    await waitFor(async () => (await infoField(master.client, 'replication', 'connected_slaves')) === '0', 5000, 'the replica to leave');
    const done = { kind: 'outcome_unknown', code: 'UPSTREAM_TIMEOUT' } as const;
    await t.rejects(store.complete(tenant, 'k', claim.token, done), StoreUnavailableError, 'no replica acknowledged the completion');
    t.equal(await master.client.hget(recordOf(tenant, 'k'), 'state'), 'completed', 'though the master has it');
    await attachReplica(master, replica);
    t.equal(await store.complete(tenant, 'k', claim.token, done), false, 'the retry finds it completed and sees the replica has it');
    t.equal(await replica.client.hget(recordOf(tenant, 'k'), 'state'), 'completed');
  });
}

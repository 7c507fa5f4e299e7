// Issue 5 (a)-(c) with real `custody-proxy serve` processes sharing the machine's Redis (per-run key
// prefix, deleted at the end; fails under CI=true when Redis is unreachable): 20 concurrent duplicates
// → one execution; duplicates split across two replicas → one execution, replay served by the other;
// an owner killed with SIGKILL mid-exchange → 502 UPSTREAM_OUTCOME_UNKNOWN after the 1s lease, never a second execution.
import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { sha256Hex } from '../../src/idempotency/fingerprint.js';
import { bearer, credentialsYaml, type KeySpec } from '../helpers/credentials.js';
import { startUpstream, type RecordingUpstream } from '../helpers/recording-upstream.js';
import { startProxy } from '../helpers/start-proxy.js';
import {
  assertProxyError,
  call,
  endToEndHeaders,
  executions,
  startCall,
  type CallReply,
  type CallSpec,
} from '../helpers/proxy-calls.js';
import { MACHINE_REDIS_URL, machineRedis, missing, type MachineRedis } from '../helpers/redis-server.js';
import { spawnProxy, type SpawnedProxy } from '../helpers/spawn-proxy.js';
import { gate, waitFor, type Gate } from '../helpers/waits.js';

const A: KeySpec = { keyId: 'ck_test_replica_a', tenant: 'tnt_a', secret: 'sk_test_replica_a_secret' };
const CREDENTIALS = credentialsYaml([{ id: 'tnt_a' }], [A]);
const newKey = (label: string): string => `${label}-${randomUUID()}`;

function keyed(key: string): CallSpec {
  return {
    method: 'POST',
    path: '/v1/transfers?source=replicas',
    body: '{"amount":7}',
    headers: [['Authorization', bearer(A)], ['Content-Type', 'application/json'], ['Idempotency-Key', key]],
    timeoutMs: 30_000,
  };
}

interface Cluster {
  readonly redis: MachineRedis;
  readonly upstream: RecordingUpstream;
  readonly gates: Gate[];
  readonly config: Record<string, unknown>;
  one: SpawnedProxy;
  readonly two: SpawnedProxy;
}

/** A handler that answers once the gate opens; notes whether the proxy cut the exchange first. */
function gatedHandler(cluster: Cluster, body: string, cut?: { value: boolean }): Gate {
  const g = gate();
  cluster.gates.push(g);
  cluster.upstream.handler = (_req, res: http.ServerResponse) => {
    res.on('close', () => {
      if (!res.writableFinished && cut) cut.value = true;
    });
    void g.wait.then(() => {
      if (res.destroyed) return;
      res.writeHead(201, { 'content-type': 'application/json', 'x-upstream': 'custody' });
      res.end(body);
    });
  };
  return g;
}

function assertReplay(t: Test, first: CallReply, replay: CallReply, what: string): void {
  t.equal(replay.status, first.status, `${what}: same status (got ${replay.status} ${replay.text.slice(0, 120)})`);
  t.ok(replay.body.equals(first.body), `${what}: same body bytes`);
  t.same(endToEndHeaders(replay), endToEndHeaders(first), `${what}: same headers`);
  t.equal(replay.headers['idempotent-replayed'], 'true', `${what}: Idempotent-Replayed: true`);
  t.not(replay.headers['x-request-id'], first.headers['x-request-id'], `${what}: its own X-Request-Id`);
}

/** A TCP relay to the machine's Redis that can hold client-to-Redis bytes back (a slow store for one proxy). */
async function slowRedisRelay(t: Test, target: URL): Promise<{ url: string; setDelay(ms: number): void }> {
  let delayMs = 0;
  const sockets = new Set<net.Socket>();
  const relay = net.createServer((client) => {
    const upstreamSocket = net.connect(Number(target.port || 6379), target.hostname);
    for (const s of [client, upstreamSocket]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    client.on('data', (chunk: Buffer) => {
      const send = (): void => {
        if (!upstreamSocket.destroyed) upstreamSocket.write(chunk);
      };
      if (delayMs > 0) setTimeout(send, delayMs);
      else send();
    });
    upstreamSocket.on('data', (chunk: Buffer) => {
      if (!client.destroyed) client.write(chunk);
    });
    client.on('close', () => upstreamSocket.destroy());
    upstreamSocket.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', () => resolve()));
  const address = relay.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        relay.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  );
  return { url: `redis://127.0.0.1:${port}`, setDelay: (ms) => (delayMs = ms) };
}

t.setTimeout(180_000);

const redis = await machineRedis(t, 'replicas');
if (!redis) {
  missing(t, `Redis is not reachable at ${MACHINE_REDIS_URL} (replicas share it)`);
} else {
  const upstream = await startUpstream();
  const gates: Gate[] = [];
  t.teardown(async () => {
    for (const g of gates) g.open();
    await upstream.close();
  });
  const config = {
    idempotency: { store: 'redis', redis: { url: redis.url, keyPrefix: redis.prefix }, lease: '1s' },
    upstream: { url: upstream.url, timeout: '30s', connectTimeout: '1s' },
  };
  const options = { upstreamUrl: upstream.url, credentialsYaml: CREDENTIALS, config, startTimeoutMs: 60_000 };
  const [one, two] = await Promise.all([spawnProxy(t, options), spawnProxy(t, options)]);
  const cluster: Cluster = { redis, upstream, gates, config, one, two };

  t.test('(a) 20 concurrent identical keyed POSTs to one process → exactly one upstream execution', async (t) => {
    const g = gatedHandler(cluster, '{"transfer":"tr_a"}');
    const key = newKey('burst');
    const replies: CallReply[] = [];
    const all = Array.from({ length: 20 }, () => call(cluster.one.url, keyed(key)).then((r) => replies.push(r)));
    await waitFor(() => replies.length === 19 && executions(upstream.requests, key) === 1, 30_000, '19 answers while one is in flight');
    g.open();
    await Promise.all(all);
    const executed = replies.filter((r) => r.status === 201);
    t.equal(executed.length, 1, 'one 201');
    t.notOk(executed[0]?.headers['idempotent-replayed'], 'not marked as a replay');
    const busy = replies.filter((r) => r.status === 409);
    t.equal(busy.length, 19, '19 × 409');
    t.ok(busy.every((r) => r.json()['code'] === 'IDEMPOTENCY_IN_PROGRESS' && r.headers['retry-after'] !== undefined), 'all IDEMPOTENCY_IN_PROGRESS with Retry-After');
    t.equal(executions(upstream.requests, key), 1, 'one upstream execution');
    const first = executed[0];
    if (first) {
      assertReplay(t, first, await call(cluster.one.url, keyed(key)), 'replay from the same process');
      assertReplay(t, first, await call(cluster.two.url, keyed(key)), 'replay from the other process');
    }
    t.equal(executions(upstream.requests, key), 1, 'still one');
  });

  t.test('(b) duplicates split across two replicas sharing Redis → one execution; the other replica replays', async (t) => {
    const g = gatedHandler(cluster, '{"transfer":"tr_b"}');
    const key = newKey('split');
    const replies: Array<{ replica: 'one' | 'two'; reply: CallReply }> = [];
    const all: Array<Promise<number>> = [];
    for (let i = 0; i < 10; i++) {
      for (const replica of ['one', 'two'] as const) {
        all.push(call(cluster[replica].url, keyed(key)).then((reply) => replies.push({ replica, reply })));
      }
    }
    await waitFor(() => replies.length === 19 && executions(upstream.requests, key) === 1, 30_000, '19 answers while one is in flight');
    t.ok(replies.some((r) => r.replica === 'one') && replies.some((r) => r.replica === 'two'), 'both replicas turned duplicates away');
    g.open();
    await Promise.all(all);
    const winners = replies.filter((r) => r.reply.status === 201);
    t.equal(winners.length, 1, 'one execution answered');
    t.equal(replies.filter((r) => r.reply.status === 409 && r.reply.json()['code'] === 'IDEMPOTENCY_IN_PROGRESS').length, 19, '19 × 409 IDEMPOTENCY_IN_PROGRESS across both');
    t.equal(executions(upstream.requests, key), 1, 'one upstream execution');
    const winner = winners[0];
    if (!winner) return;
    const other = winner.replica === 'one' ? cluster.two : cluster.one;
    const replay = await call(other.url, keyed(key));
    assertReplay(t, winner.reply, replay, `replay served by replica ${winner.replica === 'one' ? 'two' : 'one'}`);
    t.equal(executions(upstream.requests, key), 1, 'still one');
  });

  t.test('(b) a duplicate sent the moment the client has its whole response is a replay, even when the owner is slow to complete', async (t) => {
    // The owner (in-process) reaches Redis through a relay that, once the claim is in, delays its traffic
    // by 400 ms: its completion lands late. The other replica (a real process) must still replay, because
    // the owner's client only gets the end of its response after the record is settled.
    const relay = await slowRedisRelay(t, new URL(redis.url));
    const owner = await startProxy({
      upstreamUrl: upstream.url,
      credentialsYaml: CREDENTIALS,
      config: { ...config, idempotency: { ...config.idempotency, redis: { url: relay.url, keyPrefix: redis.prefix }, lease: '5s' } },
    });
    t.teardown(() => owner.close());
    const g = gatedHandler(cluster, '{"transfer":"tr_slow_store"}');
    const key = newKey('slow-complete');
    const pending = call(owner.url, keyed(key));
    await waitFor(() => executions(upstream.requests, key) === 1, 30_000, 'the request to reach the upstream');
    relay.setDelay(400);
    const opened = Date.now();
    g.open();
    const first = await pending;
    t.equal(first.status, 201, 'the owner answers');
    t.notOk(first.headers['idempotent-replayed']);
    t.ok(Date.now() - opened >= 350, `the end of the response waited for the store (${Date.now() - opened} ms)`);
    const replay = await call(cluster.two.url, keyed(key));
    assertReplay(t, first, replay, 'the other replica, right after');
    t.equal(executions(upstream.requests, key), 1, 'one execution');
  });

  t.test('(c) the owner is SIGKILLed mid-exchange and restarted → 502 UPSTREAM_OUTCOME_UNKNOWN after the lease, never a second execution', async (t) => {
    const cut = { value: false };
    const g = gatedHandler(cluster, '{"transfer":"tr_c"}', cut);
    const key = newKey('killed');
    const record = `${redis.prefix}idem:{${A.tenant}:${sha256Hex(key)}}`;
    const victim = cluster.one;
    const doomed = startCall(victim.url, keyed(key));
    doomed.reply.catch(() => undefined);
    await waitFor(() => executions(upstream.requests, key) === 1, 30_000, 'the request to reach the upstream');
    t.equal(await redis.client.hget(record, 'state'), 'in_flight', 'Redis holds the in-flight record');
    assertProxyError(t, await call(cluster.two.url, keyed(key)), 409, 'IDEMPOTENCY_IN_PROGRESS', 'duplicate on the other replica while the owner lives');

    const exit = await victim.kill('SIGKILL');
    t.equal(exit.signal, 'SIGKILL', `owner pid ${victim.pid} died of SIGKILL`);
    await t.rejects(doomed.reply, "the owner's client loses its connection");
    await waitFor(() => cut.value, 10_000, "the upstream to see the dead owner's connection close");
    t.ok(cut.value, 'the upstream exchange was cut while the upstream was still working');

    // Right after the kill the lease may or may not have lapsed yet: either answer is fine, executing is not.
    const soon = await call(cluster.two.url, keyed(key));
    t.ok(soon.status === 409 || soon.status === 502, `right after the kill: 409 or 502, got ${soon.status}`);

    const restarted = await spawnProxy(t, { upstreamUrl: upstream.url, credentialsYaml: CREDENTIALS, config: cluster.config, dir: victim.dir, startTimeoutMs: 60_000 });
    cluster.one = restarted;
    t.not(restarted.pid, victim.pid, 'a new process');
    let answer: CallReply | undefined;
    const seen = new Set<number>();
    await waitFor(async () => {
      answer = await call(restarted.url, keyed(key));
      seen.add(answer.status);
      return answer.status !== 409;
    }, 15_000, 'the lease to expire', 100);
    t.same([...seen].filter((s) => s !== 409 && s !== 502), [], 'only 409 (lease alive) or 502 on the way');
    if (answer) assertProxyError(t, answer, 502, 'UPSTREAM_OUTCOME_UNKNOWN', 'restarted process after the lease');
    assertProxyError(t, await call(cluster.two.url, keyed(key)), 502, 'UPSTREAM_OUTCOME_UNKNOWN', 'the surviving replica after the lease');
    assertProxyError(t, await call(restarted.url, keyed(key)), 502, 'UPSTREAM_OUTCOME_UNKNOWN', 'asked again');
    t.equal(await redis.client.hget(record, 'state'), 'in_flight', 'the record is still in flight (nobody completed or re-claimed it)');
    t.equal(await redis.client.exists(`${record}:lease`), 0, 'and its lease is gone');

    // Let the upstream finish its (orphaned) work, then make sure nothing arrives late.
    g.open();
    await sleep(500);
    t.equal(executions(upstream.requests, key), 1, 'the upstream executed the key exactly once');
    assertProxyError(t, await call(restarted.url, keyed(key)), 502, 'UPSTREAM_OUTCOME_UNKNOWN', 'and keeps answering 502');
    t.equal(executions(upstream.requests, key), 1, 'still once');

    upstream.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"fresh":true}');
    };
    const fresh = newKey('after-restart');
    const ok = await call(restarted.url, keyed(fresh));
    t.equal(ok.status, 200, 'the restarted process serves new keys');
    t.equal(executions(upstream.requests, fresh), 1);
  });
}

// Redis Sentinel (SPEC §9 rev 2 topologies) with a real `custody-proxy serve` on `redis.sentinels` +
// `redis.name` and `waitReplicas: 1`, in front of a private master with two replicas and a sentinel.
// Keyed POSTs flow while the master is SIGKILLed (by PID) and Sentinel fails over: every answer is a
// success or 503 IDEMPOTENCY_STORE_UNAVAILABLE (never 502), no key executes twice, keys completed
// before the failover (and during it) replay after it, keys refused with 503 execute once when retried,
// and keyed requests are served again within a few seconds of the kill.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { bearer, credentialsYaml, type KeySpec } from '../helpers/credentials.js';
import { call, executions, type CallReply, type CallSpec } from '../helpers/proxy-calls.js';
import { startUpstream, type RecordingUpstream } from '../helpers/recording-upstream.js';
import { missing, redisServerInstalled } from '../helpers/redis-server.js';
import { startSentinelGroup, type SentinelGroup } from '../helpers/redis-topologies.js';
import { spawnProxy, type SpawnedProxy } from '../helpers/spawn-proxy.js';
import { waitFor } from '../helpers/waits.js';

const A: KeySpec = { keyId: 'ck_test_sentinel_a', tenant: 'tnt_sentinel', secret: 'sk_test_sentinel_a_secret' };
const WORKERS = 3;
/** the longest the proxy may take to serve keyed requests again after the kill */
const RECOVERY_MS = 10_000;

function keyed(key: string): CallSpec {
  const headers: Array<readonly [string, string]> = [['Authorization', bearer(A)], ['Content-Type', 'application/json'], ['Idempotency-Key', key]];
  return { method: 'POST', path: '/v1/transfers', body: `{"key":"${key}"}`, headers, timeoutMs: 10_000 };
}

interface Sent { readonly key: string; readonly reply: CallReply; readonly at: number }

const codeOf = (r: CallReply): unknown => {
  try {
    return r.json()['code'];
  } catch {
    return undefined;
  }
};

/**
 * WORKERS loops of fresh keys, one at a time each, until `stop()`; the master is SIGKILLed once
 * `killAfter` replies have come back. Resolves with every reply and the time of the kill.
 */
async function trafficAcrossFailover(proxy: SpawnedProxy, group: SentinelGroup, killAfter: number): Promise<{ sent: Sent[]; killedAt: number }> {
  const sent: Sent[] = [];
  let killedAt = 0;
  let recoveredAt = 0;
  const deadline = Date.now() + 30_000;
  const stop = (): boolean => Date.now() > deadline || (recoveredAt > 0 && Date.now() > recoveredAt + 1000);
  const worker = async (): Promise<void> => {
    while (!stop()) {
      const key = `f-${randomUUID()}`;
      const reply = await call(proxy.url, keyed(key));
      const at = Date.now();
      sent.push({ key, reply, at });
      if (killedAt === 0 && sent.length >= killAfter) {
        killedAt = Date.now();
        await group.master.kill('SIGKILL');
      }
      // Only a reply that came back after the kill counts: the killing worker's own reply predates it,
      // and taking it for a recovery stopped the traffic before any real one (a CI failure: "never").
      if (killedAt > 0 && recoveredAt === 0 && at > killedAt && reply.status === 200 && sent.some((s) => s.at > killedAt && s.reply.status === 503)) recoveredAt = at;
      // 503s come back at once while Redis is away: do not spin.
      await sleep(reply.status === 503 ? 50 : 10);
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, worker));
  return { sent, killedAt };
}

/**
 * Asks again, as a client would, while the answer says "try again": 409 (a settle still being retried
 * holds the lease) or 503 (the store is briefly away again, e.g. while Sentinel resyncs the other
 * replica and a WAIT cannot be met); bounded.
 */
async function settledAnswer(proxy: SpawnedProxy, key: string): Promise<CallReply> {
  let reply: CallReply | undefined;
  await waitFor(async () => {
    reply = await call(proxy.url, keyed(key));
    return reply.status !== 409 && reply.status !== 503;
  }, 15_000, `a settled answer for ${key}`, 100);
  if (!reply) throw new Error('no reply');
  return reply;
}

async function failoverScenario(t: Test, group: SentinelGroup, upstream: RecordingUpstream, proxy: SpawnedProxy): Promise<void> {
  const before: string[] = [];
  for (let i = 0; i < 10; i++) {
    const key = `b-${randomUUID()}`;
    t.equal((await call(proxy.url, keyed(key))).status, 200, 'a key completes before the failover');
    before.push(key);
  }
  const { sent, killedAt } = await trafficAcrossFailover(proxy, group, 60);
  t.ok(killedAt > 0, `the master (pid ${group.master.pid}) was killed mid-traffic`);
  // Sentinel names the new master only once it reconfigured the other replica (or failover-timeout
  // passed), which may be after the traffic stopped; until then claims get 503 (waitReplicas: 1).
  await waitFor(async () => (await group.masterAddress()) !== group.master.address, 20_000, 'Sentinel to finish the failover', 100);
  t.pass(`Sentinel failed over to ${await group.masterAddress()}`);
  await waitFor(async () => (await call(proxy.url, keyed(`probe-${randomUUID()}`))).status === 200, 10_000, 'keyed requests served on the new master', 100);
  const statuses = new Set(sent.map((s) => `${s.reply.status} ${String(codeOf(s.reply) ?? '')}`.trim()));
  t.same([...statuses].filter((s) => s !== '200' && s !== '503 IDEMPOTENCY_STORE_UNAVAILABLE'), [], `only 200 or 503 during the failover: ${[...statuses].join(', ')}`);
  t.ok(sent.some((s) => s.at > killedAt && s.reply.status === 503), 'some keyed requests were refused during the failover');
  // The traffic loop's own test: a 200 received after some 503 (replies of one millisecond count).
  const recovered = sent.find((s, i) => s.at > killedAt && s.reply.status === 200 && sent.slice(0, i).some((r) => r.at > killedAt && r.reply.status === 503));
  t.ok(recovered && recovered.at - killedAt < RECOVERY_MS, `keyed requests served again ${recovered ? recovered.at - killedAt : '(never)'} ms after the kill`);
  for (const s of sent.filter((x) => x.reply.status === 503)) t.equal(executions(upstream.requests, s.key), 0, `refused ${s.key} was never forwarded`);

  // After the failover: completed keys replay, refused keys execute once, nothing executes twice.
  for (const key of before) {
    const r = await settledAnswer(proxy, key);
    t.ok(r.status === 200 && r.headers['idempotent-replayed'] === 'true', `completed before the failover: replayed (${r.status})`);
  }
  let replayed = 0;
  for (const s of sent) {
    const r = await settledAnswer(proxy, s.key);
    t.equal(r.status, 200, `${s.key} (first answered ${s.reply.status}) answers 200 after the failover`);
    if (s.reply.status === 200) replayed += r.headers['idempotent-replayed'] === 'true' ? 1 : 0;
    else t.notOk(r.headers['idempotent-replayed'], `refused ${s.key} now executes`);
  }
  t.equal(replayed, sent.filter((s) => s.reply.status === 200).length, 'every key that succeeded replays');
  for (const key of [...before, ...sent.map((s) => s.key)]) {
    if (executions(upstream.requests, key) !== 1) t.fail(`${key} executed ${executions(upstream.requests, key)} times`);
  }
  t.pass(`${before.length + sent.length} keys, each executed exactly once`);
  t.notOk(proxy.logLines().some((l) => String(l['msg']).includes('lost its records')), 'the failover is not a store loss (the marker was replicated)');
}

if (!redisServerInstalled()) {
  missing(t, 'redis-server is not installed (the Sentinel tests start their own)');
} else {
  t.setTimeout(120_000);
  const group = await startSentinelGroup(t);
  const upstream = await startUpstream((_req, res) => {
    // A little upstream time, so some requests are in flight when the master dies.
    setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'), 20);
  });
  t.teardown(() => upstream.close());
  const proxy = await spawnProxy(t, {
    upstreamUrl: upstream.url,
    credentialsYaml: credentialsYaml([{ id: A.tenant }], [A]),
    config: {
      idempotency: {
        store: 'redis',
        redis: { sentinels: group.sentinels.map((s) => s.address), name: group.name, keyPrefix: `sentinel-${randomUUID()}:`, waitReplicas: 1 },
      },
    },
    startTimeoutMs: 60_000,
  });
  t.test('a Sentinel failover mid-traffic: 200 or 503, never a second execution; replays survive', (t) => failoverScenario(t, group, upstream, proxy));
  t.test('SIGTERM still exits 0: the Sentinel connections (and their +switch-master subscriptions) close', async (t) => {
    t.equal((await proxy.kill('SIGTERM', 15_000)).code, 0);
  });
}

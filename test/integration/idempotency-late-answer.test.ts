// Late answers (SPEC §9 rev 2), against both stores: after a keyed request timed out (504, stored as
// UPSTREAM_TIMEOUT) the upstream exchange stays open for `lateResponseWindow`; an answer within it
// replaces the timeout, so duplicates get the real replay; a late 503 releases the key; past the
// window (or with a window of 0s) the upstream request is cut and the timeout stands.
import { randomUUID } from 'node:crypto';
import t, { type Test } from 'tap';
import { bearer, credentialsYaml, type KeySpec } from '../helpers/credentials.js';
import { startUpstream, type RecordingUpstream } from '../helpers/recording-upstream.js';
import { startProxy, type TestProxy } from '../helpers/start-proxy.js';
import { assertProxyError, call, executions, type CallReply, type CallSpec } from '../helpers/proxy-calls.js';
import { MACHINE_REDIS_URL, machineRedis, missing } from '../helpers/redis-server.js';
import { gate, waitFor, type Gate } from '../helpers/waits.js';

const A: KeySpec = { keyId: 'ck_test_late_a', tenant: 'tnt_a', secret: 'sk_test_late_a_secret' };
const CREDENTIALS = credentialsYaml([{ id: 'tnt_a' }], [A]);
type StoreConfig = Record<string, unknown>;

function keyed(key: string): CallSpec {
  return {
    method: 'POST',
    path: '/v1/withdrawals',
    body: '{"amount":5}',
    headers: [['Authorization', bearer(A)], ['Content-Type', 'application/json'], ['Idempotency-Key', key]],
  };
}

async function setup(t: Test, store: StoreConfig, lateResponseWindow: string): Promise<{ proxy: TestProxy; upstream: RecordingUpstream; answer: Gate; closed: Set<string> }> {
  const upstream = await startUpstream();
  const answer = gate();
  /** idempotency keys whose upstream request the proxy cut */
  const closed = new Set<string>();
  t.teardown(async () => {
    answer.open();
    await upstream.close();
  });
  const proxy = await startProxy({
    upstreamUrl: upstream.url,
    credentialsYaml: CREDENTIALS,
    config: {
      idempotency: { ...store, lateResponseWindow },
      upstream: { url: upstream.url, timeout: '300ms', connectTimeout: '1s' },
    },
  });
  t.teardown(() => proxy.close());
  return { proxy, upstream, answer, closed };
}

/** Answers `status` once `answer` opens; records a request the proxy cut before that. */
function answerLate(upstream: RecordingUpstream, answer: Gate, closed: Set<string>, status: number): void {
  upstream.handler = (req, res) => {
    const key = String(req.headers['idempotency-key']);
    res.on('close', () => {
      if (!res.writableFinished) closed.add(key);
    });
    void answer.wait.then(() => {
      if (res.destroyed) return;
      res.writeHead(status, { 'content-type': 'application/json', 'x-answer': 'late' });
      res.end(`{"withdrawal":"${key}","status":${status}}`);
    });
  };
}

async function timedOut(t: Test, proxy: TestProxy, key: string): Promise<void> {
  const first = await call(proxy.url, keyed(key));
  assertProxyError(t, first, 504, 'UPSTREAM_TIMEOUT', 'the upstream has not answered within the timeout');
  t.notOk(first.headers['idempotent-replayed'], 'the first answer is not a replay');
  assertProxyError(t, await call(proxy.url, keyed(key)), 504, 'UPSTREAM_TIMEOUT', 'a duplicate meanwhile: the stored timeout', true);
}

async function replayOnce(proxy: TestProxy, key: string, status: number): Promise<CallReply> {
  let got: CallReply | undefined;
  await waitFor(async () => {
    got = await call(proxy.url, keyed(key));
    return got.status === status;
  }, 5000, `a duplicate answered ${status}`, 50);
  if (!got) throw new Error('unreachable');
  return got;
}

function lateSuite(t: Test, name: string, store: StoreConfig): void {
  t.test(`${name}: an answer after the 504 replaces the stored timeout`, async (t) => {
    const { proxy, upstream, answer, closed } = await setup(t, store, '5m');
    answerLate(upstream, answer, closed, 201);
    const key = `late-${randomUUID()}`;
    await timedOut(t, proxy, key);
    answer.open();
    const replay = await replayOnce(proxy, key, 201);
    t.equal(replay.headers['idempotent-replayed'], 'true', 'the late answer is replayed');
    t.equal(replay.headers['x-answer'], 'late', 'with the upstream headers');
    t.equal(replay.body.toString(), `{"withdrawal":"${key}","status":201}`, 'and body');
    t.equal(executions(upstream.requests, key), 1, 'executed once');
    t.equal(closed.size, 0, 'the proxy did not cut the upstream request');
  });

  t.test(`${name}: a late 503 releases the key: the retry executes`, async (t) => {
    const { proxy, upstream, answer, closed } = await setup(t, store, '5m');
    answerLate(upstream, answer, closed, 503);
    const key = `late-503-${randomUUID()}`;
    await timedOut(t, proxy, key);
    answer.open();
    const retry = await replayOnce(proxy, key, 503);
    t.notOk(retry.headers['idempotent-replayed'], 'a new execution, not a replay');
    t.equal(executions(upstream.requests, key), 2, 'the upstream said "not done": executed again');
  });

  t.test(`${name}: past the window the upstream request is cut and the timeout stands`, async (t) => {
    const { proxy, upstream, answer, closed } = await setup(t, store, '400ms');
    answerLate(upstream, answer, closed, 201);
    const key = `late-window-${randomUUID()}`;
    await timedOut(t, proxy, key);
    await waitFor(() => closed.has(key), 5000, 'the proxy cut the upstream request after the window');
    answer.open();
    assertProxyError(t, await call(proxy.url, keyed(key)), 504, 'UPSTREAM_TIMEOUT', 'still the timeout', true);
    t.equal(executions(upstream.requests, key), 1, 'executed once');
  });

  t.test(`${name}: lateResponseWindow 0s cuts the upstream request at the timeout`, async (t) => {
    const { proxy, upstream, answer, closed } = await setup(t, store, '0s');
    answerLate(upstream, answer, closed, 201);
    const key = `late-off-${randomUUID()}`;
    const first = await call(proxy.url, keyed(key));
    assertProxyError(t, first, 504, 'UPSTREAM_TIMEOUT', 'timed out');
    await waitFor(() => closed.has(key), 2000, 'the upstream request is cut at once');
  });
}

t.setTimeout(90_000);

lateSuite(t, 'memory', { store: 'memory' });

const redis = await machineRedis(t, 'late');
if (!redis) missing(t, `Redis is not reachable at ${MACHINE_REDIS_URL} (the redis-store half of the late-answer tests)`);
else lateSuite(t, 'redis', { store: 'redis', redis: { url: redis.url, keyPrefix: redis.prefix } });

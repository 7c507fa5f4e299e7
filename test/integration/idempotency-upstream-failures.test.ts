// Idempotency outcome rows of SPEC §9 that come from how the upstream exchange ends, against both
// stores (memory, and redis on the machine's Redis with a per-run prefix): connect failure (released),
// timeout and reset after sending (stored as unknown), the upstream's own 5xx (stored), request body
// over maxRequestBytes (413, nothing stored) and response over maxResponseBytes (409 on duplicates).
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import t, { type Test } from 'tap';
import { bearer, credentialsYaml, type KeySpec } from '../helpers/credentials.js';
import { rawRequest } from '../helpers/http-client.js';
import { startUpstream, type RecordingUpstream } from '../helpers/recording-upstream.js';
import { startProxy, type TestProxy } from '../helpers/start-proxy.js';
import { assertProxyError, call, endToEndHeaders, executions, type CallReply, type CallSpec } from '../helpers/proxy-calls.js';
import { MACHINE_REDIS_URL, machineRedis, missing } from '../helpers/redis-server.js';
import { freePort, gate, type Gate } from '../helpers/waits.js';

const A: KeySpec = { keyId: 'ck_test_fail_a', tenant: 'tnt_a', secret: 'sk_test_fail_a_secret' };
const CREDENTIALS = credentialsYaml([{ id: 'tnt_a' }], [A]);

type StoreConfig = Record<string, unknown>;
const newKey = (label: string): string => `${label}-${randomUUID()}`;

function keyed(key: string, body: string | Buffer = '{"amount":1}', path = '/v1/transfers'): CallSpec {
  return {
    method: 'POST',
    path,
    body,
    headers: [['Authorization', bearer(A)], ['Content-Type', 'application/json'], ['Idempotency-Key', key]],
  };
}

async function proxyFor(t: Test, upstreamUrl: string, store: StoreConfig, extra: { idempotency?: Record<string, unknown>; upstream?: Record<string, unknown> } = {}): Promise<TestProxy> {
  const proxy = await startProxy({
    upstreamUrl,
    credentialsYaml: CREDENTIALS,
    config: {
      idempotency: { ...store, ...(extra.idempotency ?? {}) },
      upstream: { url: upstreamUrl, timeout: '10s', connectTimeout: '1s', ...(extra.upstream ?? {}) },
    },
  });
  t.teardown(() => proxy.close());
  return proxy;
}

async function upstreamFor(t: Test): Promise<{ upstream: RecordingUpstream; gates: Gate[] }> {
  const upstream = await startUpstream();
  const gates: Gate[] = [];
  t.teardown(async () => {
    for (const g of gates) g.open();
    await upstream.close();
  });
  return { upstream, gates };
}

function assertReplay(t: Test, first: CallReply, replay: CallReply, what: string): void {
  t.equal(replay.status, first.status, `${what}: same status`);
  t.ok(replay.body.equals(first.body), `${what}: same body bytes (${replay.body.length})`);
  t.same(endToEndHeaders(replay), endToEndHeaders(first), `${what}: same headers`);
  t.equal(replay.headers['idempotent-replayed'], 'true', `${what}: Idempotent-Replayed: true`);
  t.not(replay.headers['x-request-id'], first.headers['x-request-id'], `${what}: its own X-Request-Id`);
}

/** Status line and body of a raw HTTP/1.1 answer. */
function parseRaw(text: string): { status: number; headers: string; body: string } {
  const end = text.indexOf('\r\n\r\n');
  const head = end === -1 ? text : text.slice(0, end);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  return { status, headers: head, body: end === -1 ? '' : text.slice(end + 4) };
}

function failureSuite(t: Test, name: string, store: StoreConfig): void {
  t.test(`${name}: connect failure → 502 UPSTREAM_UNAVAILABLE, key released; once an upstream listens the retry executes`, async (t) => {
    const port = await freePort();
    const proxy = await proxyFor(t, `http://127.0.0.1:${port}`, store);
    const key = newKey('connect');
    const first = await call(proxy.url, keyed(key));
    assertProxyError(t, first, 502, 'UPSTREAM_UNAVAILABLE', 'nothing listens');
    // Released, not stored: a stored failure would come back as UPSTREAM_OUTCOME_UNKNOWN.
    assertProxyError(t, await call(proxy.url, keyed(key)), 502, 'UPSTREAM_UNAVAILABLE', 'the retry tries again');

    const seen: string[] = [];
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        seen.push(String(req.headers['idempotency-key']));
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end('{"created":true}');
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    t.teardown(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const retry = await call(proxy.url, keyed(key));
    t.equal(retry.status, 201, 'the retry executes once the upstream is up');
    t.notOk(retry.headers['idempotent-replayed'], 'as a first execution');
    t.same(seen, [key], 'the upstream saw exactly one execution');
    assertReplay(t, retry, await call(proxy.url, keyed(key)), 'then it replays');
    t.same(seen, [key], 'still one');
  });

  t.test(`${name}: timeout after sending → 504 UPSTREAM_TIMEOUT, stored; duplicates get it and never re-execute`, async (t) => {
    const { upstream, gates } = await upstreamFor(t);
    const proxy = await proxyFor(t, upstream.url, store, { upstream: { timeout: '300ms' } });
    const never = gate();
    gates.push(never);
    upstream.handler = (_req, res) => {
      void never.wait.then(() => res.destroy());
    };
    const key = newKey('timeout');
    const first = await call(proxy.url, keyed(key));
    assertProxyError(t, first, 504, 'UPSTREAM_TIMEOUT', 'the upstream never answers');
    t.ok(first.ms >= 250, `answered after the timeout (${first.ms} ms)`);
    t.notOk(first.headers['idempotent-replayed'], 'the first answer is not a replay');
    for (let i = 1; i <= 2; i++) {
      assertProxyError(t, await call(proxy.url, keyed(key)), 504, 'UPSTREAM_TIMEOUT', `duplicate ${i}: the stored outcome`, true);
    }
    t.equal(executions(upstream.requests, key), 1, 'one execution');

    // Timed out after the response had started: the client's connection is cut, the outcome stored.
    upstream.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
      void never.wait.then(() => res.destroy());
    };
    const streaming = newKey('timeout-streaming');
    await t.rejects(call(proxy.url, keyed(streaming)), 'a cut connection, never a truncated body passed off as whole');
    assertProxyError(t, await call(proxy.url, keyed(streaming)), 504, 'UPSTREAM_TIMEOUT', 'duplicate after a cut response', true);
    t.equal(executions(upstream.requests, streaming), 1, 'one execution');
  });

  t.test(`${name}: reset after receiving → 502 UPSTREAM_OUTCOME_UNKNOWN, stored`, async (t) => {
    const { upstream } = await upstreamFor(t);
    const proxy = await proxyFor(t, upstream.url, store);
    upstream.handler = (req) => req.socket.destroy();
    const key = newKey('reset');
    assertProxyError(t, await call(proxy.url, keyed(key)), 502, 'UPSTREAM_OUTCOME_UNKNOWN', 'the upstream resets after reading the request');
    upstream.handler = (_req, res) => {
      res.writeHead(200);
      res.end('must not run again');
    };
    for (let i = 1; i <= 2; i++) {
      assertProxyError(t, await call(proxy.url, keyed(key)), 502, 'UPSTREAM_OUTCOME_UNKNOWN', `duplicate ${i}: the stored outcome`, true);
    }
    t.equal(executions(upstream.requests, key), 1, 'one execution');

    upstream.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('half of it');
      setTimeout(() => res.socket?.destroy(), 20);
    };
    const cut = newKey('reset-streaming');
    await t.rejects(call(proxy.url, keyed(cut)), 'reset mid-response: the client connection is cut');
    assertProxyError(t, await call(proxy.url, keyed(cut)), 502, 'UPSTREAM_OUTCOME_UNKNOWN', 'duplicate after a reset mid-response', true);
    t.equal(executions(upstream.requests, cut), 1, 'one execution');
  });

  t.test(`${name}: the upstream's own 502 and 504 are stored like any response`, async (t) => {
    const { upstream } = await upstreamFor(t);
    const proxy = await proxyFor(t, upstream.url, store);
    for (const status of [502, 504]) {
      upstream.handler = (_req, res) => {
        res.writeHead(status, { 'content-type': 'text/plain', 'x-upstream': 'yes' });
        res.end(`upstream says ${status}`);
      };
      const key = newKey(`own-${status}`);
      const first = await call(proxy.url, keyed(key));
      t.equal(first.status, status);
      t.equal(first.text, `upstream says ${status}`, "the upstream's body, not a proxy error");
      t.notOk(first.headers['idempotent-replayed']);
      assertReplay(t, first, await call(proxy.url, keyed(key)), `${status} replayed`);
      t.equal(executions(upstream.requests, key), 1, `${status}: one execution`);
    }
  });

  t.test(`${name}: body over maxRequestBytes → 413, nothing stored, upstream not called (also chunked)`, async (t) => {
    const { upstream } = await upstreamFor(t);
    const proxy = await proxyFor(t, upstream.url, store, { idempotency: { maxRequestBytes: '1KiB' } });
    const key = newKey('too-big');
    const big = Buffer.alloc(2048, 0x61);
    assertProxyError(t, await call(proxy.url, keyed(key, big)), 413, 'PAYLOAD_TOO_LARGE', 'Content-Length 2048');

    const chunk = (b: Buffer): string => `${b.length.toString(16)}\r\n${b.toString('latin1')}\r\n`;
    const raw =
      `POST /v1/transfers HTTP/1.1\r\nHost: 127.0.0.1:${proxy.port}\r\nAuthorization: ${bearer(A)}\r\n` +
      `Idempotency-Key: ${key}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n` +
      chunk(big.subarray(0, 700)) + chunk(big.subarray(700, 1400)) + chunk(big.subarray(1400)) + '0\r\n\r\n';
    const answer = parseRaw(await rawRequest(proxy.port, raw, 5000));
    t.equal(answer.status, 413, `chunked without Content-Length: 413 (${answer.headers.split('\r\n')[0] ?? ''})`);
    t.match(answer.body, '"PAYLOAD_TOO_LARGE"', 'with the §10 code');
    t.equal(upstream.requests.length, 0, 'the upstream saw neither');

    // Nothing was stored: the same key with another, acceptable body is a first execution (no 422).
    const exact = Buffer.alloc(1024, 0x62);
    const ok = await call(proxy.url, keyed(key, exact));
    t.equal(ok.status, 200, 'a body of exactly maxRequestBytes is accepted');
    t.notOk(ok.headers['idempotent-replayed'], 'as a first execution');
    t.ok(upstream.requests[0]?.body.equals(exact), 'the upstream got the whole body');
    t.equal(executions(upstream.requests, key), 1, 'one execution');
  });

  t.test(`${name}: response over maxResponseBytes → the client gets it whole; duplicates get 409, no second call`, async (t) => {
    const { upstream } = await upstreamFor(t);
    const proxy = await proxyFor(t, upstream.url, store, { idempotency: { maxResponseBytes: '1KiB' } });
    const big = Buffer.from(Array.from({ length: 8192 }, (_v, i) => i % 251));
    upstream.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(big.subarray(0, 4096));
      res.end(big.subarray(4096));
    };
    const key = newKey('big-response');
    const first = await call(proxy.url, keyed(key));
    t.equal(first.status, 200);
    t.ok(first.body.equals(big), `the first client gets all ${big.length} bytes`);
    for (let i = 1; i <= 2; i++) {
      assertProxyError(t, await call(proxy.url, keyed(key)), 409, 'IDEMPOTENCY_RESPONSE_UNAVAILABLE', `duplicate ${i}`);
    }
    t.equal(executions(upstream.requests, key), 1, 'one execution');

    const exact = Buffer.alloc(1024, 0x7a);
    upstream.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(exact);
    };
    const boundary = newKey('exact-response');
    const whole = await call(proxy.url, keyed(boundary));
    assertReplay(t, whole, await call(proxy.url, keyed(boundary)), 'a response of exactly maxResponseBytes replays whole');
    t.equal(executions(upstream.requests, boundary), 1, 'one execution');
  });
}

t.setTimeout(120_000);

failureSuite(t, 'memory', { store: 'memory' });

const redis = await machineRedis(t, 'failures');
if (!redis) missing(t, `Redis is not reachable at ${MACHINE_REDIS_URL} (the redis-store half of the failure tests)`);
else failureSuite(t, 'redis', { store: 'redis', redis: { url: redis.url, keyPrefix: redis.prefix } });

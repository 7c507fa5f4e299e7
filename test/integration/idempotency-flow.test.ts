// Idempotency core flow (SPEC §9, §10) through the in-process proxy, run against both stores (memory,
// and redis on the machine's Redis with a per-run key prefix): replay, 422 conflicts, 409 in progress,
// releasing vs stored statuses, key validation, `required`, other methods, tenants (issue 5d), ttl,
// 20 concurrent duplicates (5a) and a client leaving mid-flight. Every case counts upstream executions.
import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { bearer, credentialsYaml, type KeySpec } from '../helpers/credentials.js';
import { startUpstream, type RecordingUpstream, type UpstreamHandler } from '../helpers/recording-upstream.js';
import { startProxy, type TestProxy } from '../helpers/start-proxy.js';
import {
  assertProxyError,
  call,
  endToEndHeaders,
  executions,
  startCall,
  type CallReply,
  type CallSpec,
} from '../helpers/proxy-calls.js';
import { MACHINE_REDIS_URL, machineRedis, missing } from '../helpers/redis-server.js';
import { gate, waitFor, type Gate } from '../helpers/waits.js';

const A: KeySpec = { keyId: 'ck_test_idem_a', tenant: 'tnt_a', secret: 'sk_test_idem_a_secret' };
const B: KeySpec = { keyId: 'ck_test_idem_b', tenant: 'tnt_b', secret: 'sk_test_idem_b_secret' };
const CREDENTIALS = credentialsYaml([{ id: 'tnt_a' }, { id: 'tnt_b' }], [A, B]);

type StoreConfig = Record<string, unknown>;

interface Env {
  readonly proxy: TestProxy;
  readonly upstream: RecordingUpstream;
  /** opened at teardown so no gated handler outlives the test */
  readonly gates: Gate[];
  post(key: string | undefined, spec?: CallSpec & { readonly as?: KeySpec }): Promise<CallReply>;
  count(...keys: string[]): number;
}

const newKey = (label: string): string => `${label}-${randomUUID()}`;

function keyedSpec(key: string | undefined, spec: CallSpec & { readonly as?: KeySpec } = {}): CallSpec {
  const headers: Array<readonly [string, string]> = [['Authorization', bearer(spec.as ?? A)], ['Content-Type', 'application/json']];
  if (key !== undefined) headers.push(['Idempotency-Key', key]);
  headers.push(...(spec.headers ?? []));
  return { method: spec.method ?? 'POST', path: spec.path ?? '/v1/transfers', body: spec.body ?? '{"amount":1}', headers, timeoutMs: spec.timeoutMs ?? 15_000 };
}

async function setup(t: Test, store: StoreConfig, extra: { idempotency?: Record<string, unknown>; upstream?: Record<string, unknown> } = {}): Promise<Env> {
  const upstream = await startUpstream();
  const gates: Gate[] = [];
  const proxy = await startProxy({
    upstreamUrl: upstream.url,
    credentialsYaml: CREDENTIALS,
    config: {
      idempotency: { ...store, ...(extra.idempotency ?? {}) },
      upstream: { url: upstream.url, timeout: '10s', connectTimeout: '1s', ...(extra.upstream ?? {}) },
    },
  });
  t.teardown(async () => {
    for (const g of gates) g.open();
    await proxy.close();
    await upstream.close();
  });
  return {
    proxy,
    upstream,
    gates,
    post: (key, spec) => call(proxy.url, keyedSpec(key, spec)),
    count: (...keys) => executions(upstream.requests, ...keys),
  };
}

/** A handler that answers 200 JSON once the returned gate is opened. */
function gated(env: Env, body = '{"done":true}'): Gate {
  const g = gate();
  env.gates.push(g);
  env.upstream.handler = (_req, res) => {
    void g.wait.then(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
  };
  return g;
}

function assertReplay(t: Test, first: CallReply, replay: CallReply, what: string): void {
  t.equal(replay.status, first.status, `${what}: same status`);
  t.ok(replay.body.equals(first.body), `${what}: same body bytes`);
  t.same(endToEndHeaders(replay), endToEndHeaders(first), `${what}: same end-to-end headers, in order`);
  t.equal(replay.headers['idempotent-replayed'], 'true', `${what}: Idempotent-Replayed: true`);
  t.match(replay.headers['x-request-id'] ?? '', /^req_/, `${what}: has an X-Request-Id`);
  t.not(replay.headers['x-request-id'], first.headers['x-request-id'], `${what}: its own X-Request-Id`);
  t.equal(replay.headers['content-length'], String(replay.body.length), `${what}: Content-Length regenerated`);
}

function assertFirst(t: Test, r: CallReply, status: number, what: string): void {
  t.equal(r.status, status, `${what}: status ${status} (${r.text.slice(0, 200)})`);
  t.notOk(r.headers['idempotent-replayed'], `${what}: a first execution never carries Idempotent-Replayed`);
  t.match(r.headers['x-request-id'] ?? '', /^req_/, `${what}: X-Request-Id`);
}

function flowSuite(t: Test, name: string, store: StoreConfig): void {
  t.test(`${name}: first execution, then replays of status, body bytes and headers`, async (t) => {
    const env = await setup(t, store);
    const payload = Buffer.concat([Buffer.from([...Array(256).keys()]), Buffer.from('\r\n\0tail')]);
    const handler: UpstreamHandler = (_req, res) => {
      res.writeHead(201, 'Created', [
        'Content-Type', 'application/octet-stream',
        'Location', '/v1/transfers/tr_1',
        'X-Multi', 'one',
        'X-Multi', 'two',
        'Set-Cookie', 'session=abc; HttpOnly',
        'X-Request-Id', 'upstream-own-id',
        'Cache-Control', 'private',
      ]);
      res.end(payload);
    };
    env.upstream.handler = handler;
    const key = newKey('replay');
    const first = await env.post(key, { body: '{"amount":42}' });
    assertFirst(t, first, 201, 'first');
    t.ok(first.body.equals(payload), 'first: the upstream body');
    t.ok(first.headers['set-cookie'], 'first: Set-Cookie passed through');
    t.not(first.headers['x-request-id'], 'upstream-own-id', "first: the proxy's X-Request-Id, not the upstream's");
    t.equal(env.count(key), 1, 'one execution');
    const seen = env.upstream.requests[0];
    t.equal(seen?.body.toString(), '{"amount":42}', 'the upstream got the body');
    t.same(seen ? env.upstream.headerLines(seen, 'idempotency-key') : [], [key], 'and the Idempotency-Key unchanged');

    const replays = [await env.post(key, { body: '{"amount":42}' }), await env.post(key, { body: '{"amount":42}' })];
    for (const [i, r] of replays.entries()) {
      assertReplay(t, first, r, `replay ${i + 1}`);
      t.notOk(r.headers['set-cookie'], `replay ${i + 1}: no Set-Cookie`);
      t.same(endToEndHeaders(r).filter(([n]) => n === 'x-multi'), [['x-multi', 'one'], ['x-multi', 'two']], `replay ${i + 1}: repeated header lines kept`);
    }
    t.not(replays[0]?.headers['x-request-id'], replays[1]?.headers['x-request-id'], 'each replay has its own X-Request-Id');
    t.equal(env.count(key), 1, 'still one execution after two replays');
  });

  t.test(`${name}: a 500 and a 201 from the upstream are stored`, async (t) => {
    const env = await setup(t, store);
    for (const status of [500, 201]) {
      env.upstream.handler = (_req, res) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status }));
      };
      const key = newKey(`stored-${status}`);
      const first = await env.post(key);
      assertFirst(t, first, status, `${status} first`);
      env.upstream.handler = (_req, res) => {
        res.writeHead(200);
        res.end('must not be called');
      };
      const again = await env.post(key);
      assertReplay(t, first, again, `${status} duplicate`);
      t.equal(env.count(key), 1, `${status}: one execution`);
    }
  });

  t.test(`${name}: same key with another method, path, query or body → 422; the record is unchanged`, async (t) => {
    const env = await setup(t, store);
    env.upstream.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"original":true}');
    };
    const key = newKey('conflict');
    const original = { path: '/v1/transfers?account=1', body: '{"amount":1}' };
    const first = await env.post(key, original);
    assertFirst(t, first, 200, 'original');
    const variants: Array<[string, CallSpec]> = [
      ['other method (PUT)', { ...original, method: 'PUT' }],
      ['other method (PATCH)', { ...original, method: 'PATCH' }],
      ['other path', { ...original, path: '/v1/payouts?account=1' }],
      ['other query', { ...original, path: '/v1/transfers?account=2' }],
      ['no query', { ...original, path: '/v1/transfers' }],
      ['other body', { ...original, body: '{"amount":2}' }],
      ['empty body', { ...original, body: '' }],
    ];
    for (const [what, spec] of variants) {
      const r = await env.post(key, spec);
      assertProxyError(t, r, 422, 'IDEMPOTENCY_CONFLICT', what);
    }
    t.equal(env.upstream.requests.length, 1, 'no conflict reached the upstream');
    const replay = await env.post(key, original);
    assertReplay(t, first, replay, 'the original still replays');
    t.equal(env.count(key), 1, 'one execution');
  });

  t.test(`${name}: a conflict while the first is in flight changes nothing`, async (t) => {
    const env = await setup(t, store);
    const g = gated(env);
    const key = newKey('conflict-in-flight');
    const first = env.post(key);
    await waitFor(() => env.count(key) === 1, 10_000, 'the first to reach the upstream');
    assertProxyError(t, await env.post(key, { body: '{"amount":999}' }), 422, 'IDEMPOTENCY_CONFLICT', 'other body in flight');
    g.open();
    const r = await first;
    assertFirst(t, r, 200, 'first');
    assertReplay(t, r, await env.post(key), 'the original replays');
    t.equal(env.count(key), 1, 'one execution');
  });

  t.test(`${name}: 409 IDEMPOTENCY_IN_PROGRESS with Retry-After while in flight, past the lease`, async (t) => {
    // lease 1s: the owner renews it while the upstream works, so duplicates still see "in progress".
    const env = await setup(t, store, { idempotency: { lease: '1s' } });
    const g = gated(env, '{"slow":true}');
    const key = newKey('in-progress');
    const first = env.post(key);
    await waitFor(() => env.count(key) === 1, 10_000, 'the first to reach the upstream');
    const dup = await env.post(key);
    assertProxyError(t, dup, 409, 'IDEMPOTENCY_IN_PROGRESS', 'duplicate in flight');
    t.match(dup.headers['retry-after'] ?? '', /^[1-9]\d*$/, 'Retry-After in whole seconds');
    await sleep(1600);
    assertProxyError(t, await env.post(key), 409, 'IDEMPOTENCY_IN_PROGRESS', 'duplicate after more than one lease');
    g.open();
    const r = await first;
    assertFirst(t, r, 200, 'first');
    t.equal(r.text, '{"slow":true}');
    assertReplay(t, r, await env.post(key), 'after completion');
    t.equal(env.count(key), 1, 'one execution');
  });

  t.test(`${name}: 408, 429 and 503 from the upstream release the key; a retry executes again`, async (t) => {
    const env = await setup(t, store);
    for (const status of [408, 429, 503]) {
      const key = newKey(`release-${status}`);
      env.upstream.handler = (_req, res) => {
        res.writeHead(status, { 'content-type': 'application/json', 'retry-after': '1' });
        res.end(JSON.stringify({ upstream: status }));
      };
      const first = await env.post(key);
      assertFirst(t, first, status, `${status}: passed to the client`);
      t.equal(first.text, JSON.stringify({ upstream: status }), `${status}: the upstream's own body`);
      env.upstream.handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"second":true}');
      };
      const retry = await env.post(key);
      assertFirst(t, retry, 200, `${status}: the retry executes`);
      t.equal(env.count(key), 2, `${status}: two executions`);
      assertReplay(t, retry, await env.post(key), `${status}: then the 200 replays`);
      t.equal(env.count(key), 2, `${status}: no third execution`);
    }
  });

  t.test(`${name}: invalid keys → 400 INVALID_IDEMPOTENCY_KEY, upstream not called; "abc" and abc are one key`, async (t) => {
    const env = await setup(t, store);
    const invalid: Array<[string, Array<readonly [string, string]>]> = [
      ['empty', [['Idempotency-Key', '']]],
      ['256 characters', [['Idempotency-Key', 'k'.repeat(256)]]],
      ['a control character (tab)', [['Idempotency-Key', 'ab\tcd']]],
      ['a non-ASCII byte', [['Idempotency-Key', 'caf\u00e9']]],
      ['a space in a bare key', [['Idempotency-Key', 'ab cd']]],
      ['quoted with parameters', [['Idempotency-Key', '"abc";x=1']]],
      ['unterminated quote', [['Idempotency-Key', '"abc']]],
      ['two lines', [['Idempotency-Key', 'same'], ['Idempotency-Key', 'same']]],
    ];
    for (const [what, headers] of invalid) {
      for (const method of ['POST', 'PUT', 'PATCH']) {
        const r = await call(env.proxy.url, { ...keyedSpec(undefined, { method }), headers: [['Authorization', bearer(A)], ...headers] });
        assertProxyError(t, r, 400, 'INVALID_IDEMPOTENCY_KEY', `${method} ${what}`);
      }
    }
    t.equal(env.upstream.requests.length, 0, 'the upstream saw none of them');

    const longest = 'k'.repeat(255);
    assertFirst(t, await env.post(longest), 200, '255 characters are accepted');
    t.equal(env.count(longest), 1);
    const bare = newKey('abc');
    const first = await env.post(bare);
    assertFirst(t, first, 200, 'bare key');
    const quoted = await env.post(`"${bare}"`);
    assertReplay(t, first, quoted, 'the quoted spelling replays the bare one');
    t.equal(env.count(bare, `"${bare}"`), 1, 'one execution for both spellings');
  });

  t.test(`${name}: required: true → a keyed method without the header gets 400 IDEMPOTENCY_KEY_REQUIRED`, async (t) => {
    const env = await setup(t, store, { idempotency: { required: true } });
    for (const method of ['POST', 'PUT', 'PATCH']) {
      assertProxyError(t, await env.post(undefined, { method }), 400, 'IDEMPOTENCY_KEY_REQUIRED', method);
    }
    t.equal(env.upstream.requests.length, 0, 'the upstream saw none of them');
    const get = await call(env.proxy.url, { path: '/v1/transfers', headers: [['Authorization', bearer(A)]] });
    t.equal(get.status, 200, 'GET needs no key');
    const key = newKey('required');
    assertFirst(t, await env.post(key), 200, 'POST with a key');
    t.equal(env.upstream.requests.length, 2, 'GET and the keyed POST executed');
  });

  t.test(`${name}: GET and DELETE ignore the header; unkeyed POSTs are not deduplicated`, async (t) => {
    const env = await setup(t, store);
    const key = newKey('ignored');
    for (const method of ['GET', 'DELETE']) {
      for (let i = 0; i < 2; i++) {
        const r = await call(env.proxy.url, { method, path: '/v1/vaults/v1', headers: [['Authorization', bearer(A)], ['Idempotency-Key', key]] });
        assertFirst(t, r, 200, `${method} #${i + 1} executed`);
      }
      const twoLines = await call(env.proxy.url, {
        method,
        path: '/v1/vaults/v1',
        headers: [['Authorization', bearer(A)], ['Idempotency-Key', 'x'], ['Idempotency-Key', 'y']],
      });
      assertFirst(t, twoLines, 200, `${method} with two key lines is forwarded, not judged`);
    }
    t.equal(env.count(key), 4, 'GET twice and DELETE twice: four executions');
    for (let i = 0; i < 2; i++) assertFirst(t, await env.post(undefined), 200, `unkeyed POST #${i + 1}`);
    t.equal(env.upstream.requests.filter((r) => r.method === 'POST').length, 2, 'both unkeyed POSTs executed');
    t.equal(env.upstream.requests.length, 8);
  });

  t.test(`${name}: the same key from two tenants → two executions, each replays its own`, async (t) => {
    const env = await setup(t, store);
    env.upstream.handler = (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ tenant: req.headers['x-tenant-id'] }));
    };
    const key = newKey('tenants');
    const a = await env.post(key, { as: A, body: '{"amount":1}' });
    const b = await env.post(key, { as: B, body: '{"amount":2}' });
    assertFirst(t, a, 200, 'tenant a');
    assertFirst(t, b, 200, 'tenant b: not a conflict, not a replay');
    t.same(a.json(), { tenant: 'tnt_a' });
    t.same(b.json(), { tenant: 'tnt_b' });
    t.equal(env.count(key), 2, 'two executions');
    assertReplay(t, a, await env.post(key, { as: A, body: '{"amount":1}' }), 'tenant a replay');
    assertReplay(t, b, await env.post(key, { as: B, body: '{"amount":2}' }), 'tenant b replay');
    t.equal(env.count(key), 2, 'still two');
  });

  t.test(`${name}: ttl counts from the first request; afterwards the key is new`, async (t) => {
    const ttlMs = 2000;
    const env = await setup(t, store, { idempotency: { ttl: `${ttlMs}ms` } });
    const g = gated(env, '{"n":1}');
    const key = newKey('ttl');
    const t0 = Date.now();
    const pending = env.post(key);
    await waitFor(() => env.count(key) === 1, 10_000, 'the first to reach the upstream');
    // Complete well into the ttl: counted from completion the record would outlive t0 + ttl.
    await sleep(Math.max(0, t0 + 1100 - Date.now()));
    g.open();
    const first = await pending;
    assertFirst(t, first, 200, 'first');
    const early = await env.post(key);
    if (Date.now() - t0 < ttlMs - 100) assertReplay(t, first, early, 'within the ttl');
    else t.comment(`machine too slow to check the replay inside the ttl (${Date.now() - t0} ms)`);
    await sleep(Math.max(0, t0 + ttlMs + 300 - Date.now()));
    env.upstream.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"n":2}');
    };
    const after = await env.post(key);
    assertFirst(t, after, 200, 'after the ttl the key is new');
    t.equal(after.text, '{"n":2}', 'executed again');
    t.equal(env.count(key), 2, 'two executions');
    assertReplay(t, after, await env.post(key), 'the new record replays');
  });

  t.test(`${name}: 20 concurrent identical keyed POSTs → exactly one upstream execution`, async (t) => {
    const env = await setup(t, store);
    const g = gated(env, '{"once":true}');
    const key = newKey('burst');
    const replies: CallReply[] = [];
    const all = Array.from({ length: 20 }, () => env.post(key).then((r) => replies.push(r)));
    await waitFor(() => replies.length === 19 && env.count(key) === 1, 15_000, '19 answers while one is in flight');
    g.open();
    await Promise.all(all);
    const executed = replies.filter((r) => r.status === 200);
    t.equal(executed.length, 1, 'one 200');
    t.notOk(executed[0]?.headers['idempotent-replayed'], 'the execution is not marked as a replay');
    const busy = replies.filter((r) => r.status === 409);
    t.equal(busy.length, 19, '19 × 409');
    for (const r of busy) assertProxyError(t, r, 409, 'IDEMPOTENCY_IN_PROGRESS', 'concurrent duplicate');
    t.ok(busy.every((r) => r.headers['retry-after'] !== undefined), 'each with Retry-After');
    t.equal(env.count(key), 1, 'one execution');

    const after = await Promise.all(Array.from({ length: 20 }, () => env.post(key)));
    t.ok(after.every((r) => r.status === 200 && r.headers['idempotent-replayed'] === 'true' && r.text === '{"once":true}'), '20 more: all replays');
    t.equal(env.count(key), 1, 'still one execution');

    // Without a gate the outcomes vary (409 or replay), but the execution count may not.
    env.upstream.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"fast":true}');
    };
    const fastKey = newKey('burst-fast');
    const fast = await Promise.all(Array.from({ length: 20 }, () => env.post(fastKey)));
    t.equal(env.count(fastKey), 1, 'fast upstream: one execution');
    t.equal(fast.filter((r) => r.status === 200 && !r.headers['idempotent-replayed']).length, 1, 'one first execution');
    t.ok(
      fast.every((r) => r.status === 409 || (r.status === 200 && r.text === '{"fast":true}')),
      'every other answer is 409 in progress or an identical replay',
    );
  });

  t.test(`${name}: a client that leaves mid-flight: the upstream still completes, the retry is a replay`, async (t) => {
    const env = await setup(t, store);
    const g = gate();
    env.gates.push(g);
    let upstreamCut = false;
    let upstreamFinished = false;
    env.upstream.handler = (_req, res: http.ServerResponse) => {
      res.on('close', () => {
        if (!res.writableFinished) upstreamCut = true;
      });
      void g.wait.then(() => {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end('{"created":"tr_9"}', () => (upstreamFinished = true));
      });
    };
    const key = newKey('detached');
    const spec = keyedSpec(key);
    const leaving = startCall(env.proxy.url, spec);
    leaving.reply.catch(() => undefined);
    await waitFor(() => env.count(key) === 1, 10_000, 'the request to reach the upstream');
    leaving.abort();
    await t.rejects(leaving.reply, 'the leaving client gets no answer');
    await waitFor(
      () => env.proxy.logs.some((l) => l.includes('"msg":"request"') && l.includes('"status":0')),
      10_000,
      'the proxy to notice the client left',
    );
    assertProxyError(t, await call(env.proxy.url, spec), 409, 'IDEMPOTENCY_IN_PROGRESS', 'retry while the upstream works');
    g.open();
    await waitFor(() => upstreamFinished, 10_000, 'the upstream to finish its response');
    t.notOk(upstreamCut, 'the proxy did not cut the upstream exchange');
    let retry: CallReply | undefined;
    await waitFor(async () => {
      retry = await call(env.proxy.url, spec);
      return retry.status !== 409;
    }, 10_000, 'the record to complete', 50);
    t.equal(retry?.status, 201, 'the retry gets the stored status');
    t.equal(retry?.text, '{"created":"tr_9"}', 'and the stored body');
    t.equal(retry?.headers['idempotent-replayed'], 'true', 'as a replay');
    t.equal(env.count(key), 1, 'one execution');
  });
}

t.setTimeout(180_000);

flowSuite(t, 'memory', { store: 'memory' });

const redis = await machineRedis(t, 'flow');
if (!redis) missing(t, `Redis is not reachable at ${MACHINE_REDIS_URL} (the redis-store half of the flow tests)`);
else flowSuite(t, 'redis', { store: 'redis', redis: { url: redis.url, keyPrefix: redis.prefix } });

// Forwarding (SPEC §7, §9 error mapping, §10): the upstream's status, headers (repeated Set-Cookie) and
// binary body come back unchanged with exactly one X-Request-Id; its hop-by-hop headers do not; upstream
// down / slow / reset map to 502 UPSTREAM_UNAVAILABLE / 504 UPSTREAM_TIMEOUT / 502 UPSTREAM_OUTCOME_UNKNOWN;
// keep-alive reuse, response streaming, and `Expect: 100-continue` still stamped and sent after auth.
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { startUpstream, defaultHandler, type RecordingUpstream, type UpstreamHandler } from '../helpers/recording-upstream.js';
import { startProxy, type TestProxy } from '../helpers/start-proxy.js';
import { credentialsYaml, bearer } from '../helpers/credentials.js';
import { request, type Reply } from '../helpers/http-client.js';

const key = { keyId: 'ck_test_fwd', tenant: 'tnt_forward', secret: 'sk_test_forward_secret' };
const CREDS = credentialsYaml([{ id: key.tenant }], [key]);
const AUTH: readonly [string, string] = ['Authorization', bearer(key)];

interface Sent {
  readonly status: number;
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
  /** the client's local port (which connection carried it) */
  readonly localPort: number;
  /** ms from sending to the first body byte, and to the end */
  readonly firstDataMs: number | undefined;
  readonly endMs: number;
  readonly firstChunk: Buffer | undefined;
  readonly gotContinue: boolean;
}

const linesOf = (raw: readonly string[], name: string): string[] => {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if ((raw[i] ?? '').toLowerCase() === name.toLowerCase()) out.push(raw[i + 1] ?? '');
  return out;
};

/** node:http client keeping raw response header lines, timings and the connection used. */
function send(
  baseUrl: string,
  spec: {
    method?: string;
    path?: string;
    headers?: ReadonlyArray<readonly [string, string]>;
    body?: Buffer | string;
    agent?: http.Agent;
    /** send the body only after `100 Continue` (the request carries `Expect: 100-continue`) */
    waitForContinue?: boolean;
    timeoutMs?: number;
  } = {},
): Promise<Sent> {
  const url = new URL(baseUrl);
  const flat: string[] = ['Host', url.host];
  for (const [k, v] of spec.headers ?? []) flat.push(k, v);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    let gotContinue = false;
    const req = http.request(
      { host: url.hostname, port: url.port, method: spec.method ?? 'GET', path: spec.path ?? '/v1/vaults', headers: flat, agent: spec.agent ?? false },
      (res) => {
        const chunks: Buffer[] = [];
        let firstDataMs: number | undefined;
        let firstChunk: Buffer | undefined;
        const localPort = res.socket.localPort ?? 0;
        res.on('data', (c: Buffer) => {
          if (firstDataMs === undefined) {
            firstDataMs = performance.now() - started;
            firstChunk = c;
          }
          chunks.push(c);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            rawHeaders: res.rawHeaders,
            body: Buffer.concat(chunks),
            localPort,
            firstDataMs,
            endMs: performance.now() - started,
            firstChunk,
            gotContinue,
          }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(spec.timeoutMs ?? 10_000, () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    if (spec.waitForContinue) {
      req.on('continue', () => {
        gotContinue = true;
        req.end(spec.body);
      });
      req.flushHeaders();
    } else {
      req.end(spec.body);
    }
  });
}

function assertProblem(t: Test, r: Reply, status: number, code: string): void {
  t.equal(r.status, status, `status ${status}`);
  t.match(r.headers['content-type'], /^application\/json/, 'JSON');
  t.equal(r.headers['cache-control'], 'no-store', 'Cache-Control: no-store');
  const body = r.json<{ code: string; message: string; requestId: string }>();
  t.equal(body.code, code, `code ${code}`);
  t.type(body.message, 'string');
  t.match(r.headers['x-request-id'], /^req_[0-9a-f]{32}$/, 'one X-Request-Id');
  t.equal(body.requestId, r.headers['x-request-id'], 'requestId equals X-Request-Id');
}

let upstream: RecordingUpstream;
let proxy: TestProxy;

t.before(async () => {
  upstream = await startUpstream();
  proxy = await startProxy({ upstreamUrl: upstream.url, credentialsYaml: CREDS });
});
t.afterEach(() => {
  upstream.handler = defaultHandler;
});
t.teardown(async () => {
  await proxy.close();
  await upstream.close();
});

t.test("the upstream's status, headers and binary body come back unchanged, with exactly one X-Request-Id", async (t) => {
  const binary = Buffer.alloc(256 * 4);
  for (let i = 0; i < binary.length; i++) binary[i] = i % 256;
  upstream.handler = (_req, res) => {
    res.writeHead(201, [
      ['Content-Type', 'application/octet-stream'],
      ['Set-Cookie', 'session=abc; Path=/; HttpOnly'],
      ['Set-Cookie', 'theme=dark; Path=/'],
      ['X-Upstream', 'yes'],
      ['ETag', '"v42"'],
      ['Cache-Control', 'private, max-age=0'],
      ['X-Request-Id', 'upstream-own-id'],
      ['Content-Length', String(binary.length)],
    ].flat());
    res.end(binary);
  };
  const before = upstream.requests.length;
  const r = await send(proxy.url, { path: '/v1/blobs/1', headers: [AUTH] });
  t.equal(r.status, 201, 'status unchanged');
  t.ok(r.body.equals(binary), 'body bytes unchanged (0x00..0xff)');
  t.same(linesOf(r.rawHeaders, 'set-cookie'), ['session=abc; Path=/; HttpOnly', 'theme=dark; Path=/'], 'both Set-Cookie lines, in order');
  t.same(linesOf(r.rawHeaders, 'content-type'), ['application/octet-stream']);
  t.same(linesOf(r.rawHeaders, 'x-upstream'), ['yes']);
  t.same(linesOf(r.rawHeaders, 'etag'), ['"v42"']);
  t.same(linesOf(r.rawHeaders, 'cache-control'), ['private, max-age=0']);
  t.same(linesOf(r.rawHeaders, 'content-length'), [String(binary.length)]);
  const ids = linesOf(r.rawHeaders, 'x-request-id');
  t.equal(ids.length, 1, 'exactly one X-Request-Id line');
  t.match(ids[0], /^req_[0-9a-f]{32}$/, "the proxy's request id, not the upstream's");
  t.equal(upstream.requests.length, before + 1);
  t.same(upstream.headerLines(upstream.requests[before]!, 'x-request-id'), ids, 'the same id the upstream was given');
});

t.test('upstream error statuses and bodies are passed through as-is', async (t) => {
  upstream.handler = (_req, res) => {
    res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '7' });
    res.end('upstream busy');
  };
  const r = await send(proxy.url, { headers: [AUTH] });
  t.equal(r.status, 503);
  t.equal(r.body.toString(), 'upstream busy');
  t.same(linesOf(r.rawHeaders, 'retry-after'), ['7']);
  t.equal(linesOf(r.rawHeaders, 'x-request-id').length, 1);
});

t.test("the upstream's hop-by-hop response headers do not reach the client", async (t) => {
  upstream.handler = (_req, res) => {
    res.writeHead(200, [
      ['Connection', 'x-secret-hop'],
      ['X-Secret-Hop', '1'],
      ['Keep-Alive', 'timeout=7, max=99'],
      ['Proxy-Connection', 'keep-alive'],
      ['Upgrade', 'h2c'],
      ['Trailer', 'X-Checksum'],
      ['X-Visible', 'yes'],
    ].flat());
    res.addTrailers({ 'X-Checksum': 'abc' });
    res.end('ok');
  };
  const r = await send(proxy.url, { headers: [AUTH] });
  t.equal(r.status, 200);
  t.equal(r.body.toString(), 'ok');
  t.same(linesOf(r.rawHeaders, 'x-secret-hop'), [], 'header listed in the upstream Connection removed');
  t.notOk(linesOf(r.rawHeaders, 'connection').some((v) => /x-secret-hop/i.test(v)), "the upstream's Connection value is not passed on");
  t.notOk(linesOf(r.rawHeaders, 'keep-alive').some((v) => /max=99/.test(v)), "the upstream's Keep-Alive is not passed on");
  t.same(linesOf(r.rawHeaders, 'proxy-connection'), [], 'Proxy-Connection removed');
  t.same(linesOf(r.rawHeaders, 'upgrade'), [], 'Upgrade removed');
  t.same(linesOf(r.rawHeaders, 'trailer'), [], 'Trailer removed');
  t.same(linesOf(r.rawHeaders, 'x-visible'), ['yes'], 'end-to-end header kept');
});

t.test('upstream down (closed port) → 502 UPSTREAM_UNAVAILABLE', async (t) => {
  const gone = await startUpstream();
  const goneUrl = gone.url;
  await gone.close();
  const p = await startProxy({ upstreamUrl: goneUrl, credentialsYaml: CREDS });
  t.teardown(() => p.close());
  const started = performance.now();
  const r = await request(p.url, { path: '/v1/vaults', headers: [AUTH] });
  assertProblem(t, r, 502, 'UPSTREAM_UNAVAILABLE');
  t.ok(performance.now() - started < 2000, 'answered promptly');
  t.equal(gone.requests.length, 0, 'nothing was received');
});

/** An upstream of its own answering with `handler`, behind a proxy of its own with this upstream.timeout. */
async function proxyWithTimeout(t: Test, timeout: string, handler: UpstreamHandler): Promise<{ upstream: RecordingUpstream; proxy: TestProxy }> {
  const up = await startUpstream(handler);
  const p = await startProxy({
    upstreamUrl: up.url,
    credentialsYaml: CREDS,
    config: { upstream: { url: up.url, timeout, connectTimeout: '1s' } },
  });
  t.teardown(async () => {
    await p.close();
    await up.close();
  });
  return { upstream: up, proxy: p };
}

/** Answers after 3 s unless the proxy has cut the exchange by then. */
const answerLate: UpstreamHandler = (_req, res) => {
  const timer = setTimeout(() => res.end('too late'), 3000);
  res.on('close', () => clearTimeout(timer));
};

t.test('a slow upstream beyond upstream.timeout → 504 UPSTREAM_TIMEOUT within about a second', async (t) => {
  const { upstream: slow, proxy: p } = await proxyWithTimeout(t, '300ms', answerLate);
  const started = performance.now();
  const r = await request(p.url, { path: '/v1/slow', headers: [AUTH] });
  const elapsed = performance.now() - started;
  assertProblem(t, r, 504, 'UPSTREAM_TIMEOUT');
  t.ok(elapsed >= 250, `not before the timeout (${Math.round(elapsed)} ms)`);
  t.ok(elapsed < 1000, `within about a second (${Math.round(elapsed)} ms)`);
  t.equal(slow.requests.length, 1, 'the request had reached the upstream');
  t.equal(r.body.includes('too late'), false, 'no late upstream body');
});

t.test('overlapping slow exchanges each time out at their own deadline; a fast one between them is untouched', async (t) => {
  const { proxy: p } = await proxyWithTimeout(t, '400ms', (req, res, body) => {
    if (req.url === '/v1/fast') res.end('fast');
    else answerLate(req, res, body);
  });
  const started = performance.now();
  const timed = (path: string) => request(p.url, { path, headers: [AUTH] }).then((r) => ({ r, at: performance.now() - started }));
  const first = timed('/v1/slow-1');
  await new Promise((resolve) => setTimeout(resolve, 250));
  const second = timed('/v1/slow-2');
  const fast = await timed('/v1/fast');
  const [a, b] = await Promise.all([first, second]);
  t.equal(fast.r.status, 200, 'the fast request is answered');
  t.equal(fast.r.body.toString(), 'fast');
  assertProblem(t, a.r, 504, 'UPSTREAM_TIMEOUT');
  assertProblem(t, b.r, 504, 'UPSTREAM_TIMEOUT');
  t.ok(a.at >= 350 && a.at < 620, `the first times out at its own deadline, about 400 ms (${Math.round(a.at)} ms)`);
  t.ok(b.at >= 600, `the second not before its own deadline, about 650 ms (${Math.round(b.at)} ms)`);
  t.ok(b.at < 1400, `and not long after it (${Math.round(b.at)} ms)`);
});

t.test('an upstream that stalls mid-body beyond upstream.timeout cuts the client connection, never a truncated 200', async (t) => {
  const { proxy: p } = await proxyWithTimeout(t, '300ms', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100' });
    res.write('partial-');
  });
  const started = performance.now();
  await t.rejects(request(p.url, { path: '/v1/stall', headers: [AUTH], timeoutMs: 3000 }), 'the client sees a failed response');
  const elapsed = performance.now() - started;
  t.ok(elapsed < 1500, `cut within about a second (${Math.round(elapsed)} ms), not at the client's own timeout`);
});

t.test('an upstream that resets the connection after receiving the request → 502 UPSTREAM_OUTCOME_UNKNOWN', async (t) => {
  const before = upstream.requests.length;
  upstream.handler = (req) => {
    req.socket.destroy();
  };
  const r = await request(proxy.url, { method: 'POST', path: '/v1/transfers', headers: [AUTH, ['Content-Type', 'application/json']], body: '{"x":1}' });
  assertProblem(t, r, 502, 'UPSTREAM_OUTCOME_UNKNOWN');
  t.equal(upstream.requests.length, before + 1, 'the request had reached the upstream');
  t.equal(upstream.requests[before]?.body.toString(), '{"x":1}');
});

t.test('keep-alive: sequential requests over one client connection all reach the upstream', async (t) => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const ports: number[] = [];
  upstream.handler = (req, res) => {
    ports.push(req.socket.remotePort ?? 0);
    defaultHandler(req, res, Buffer.alloc(0));
  };
  const before = upstream.requests.length;
  const local: number[] = [];
  const ids = new Set<string>();
  for (let i = 0; i < 5; i++) {
    const r = await send(proxy.url, { path: `/v1/seq/${i}`, headers: [AUTH], agent });
    t.equal(r.status, 200, `request ${i} → 200`);
    local.push(r.localPort);
    for (const id of linesOf(r.rawHeaders, 'x-request-id')) ids.add(id);
  }
  t.equal(new Set(local).size, 1, 'one client connection carried all five');
  t.equal(ids.size, 5, 'each request got its own X-Request-Id');
  t.same(
    upstream.requests.slice(before).map((r) => r.url),
    ['/v1/seq/0', '/v1/seq/1', '/v1/seq/2', '/v1/seq/3', '/v1/seq/4'],
    'the upstream received all five in order',
  );
  t.ok(upstream.requests.slice(before).every((r) => upstream.headerLines(r, 'x-tenant-id')[0] === key.tenant), 'each stamped');
  t.equal(new Set(ports).size, 1, "the proxy reused one upstream connection (its keep-alive agent)");
});

t.test('the upstream response is streamed: the first chunk reaches the client before the upstream finishes', async (t) => {
  let restWrittenMs = 0;
  const sentAt = performance.now();
  upstream.handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('first-chunk;');
    setTimeout(() => {
      restWrittenMs = performance.now() - sentAt;
      res.end('the-rest');
    }, 300);
  };
  const r = await send(proxy.url, { path: '/v1/stream', headers: [AUTH] });
  t.equal(r.status, 200);
  t.equal(r.body.toString(), 'first-chunk;the-rest', 'whole body');
  t.equal(r.firstChunk?.toString(), 'first-chunk;', 'the first chunk arrived on its own');
  t.ok(r.firstDataMs !== undefined && r.firstDataMs < restWrittenMs, `first chunk at ${Math.round(r.firstDataMs ?? -1)} ms, before the rest was written at ${Math.round(restWrittenMs)} ms`);
  t.ok(r.endMs - (r.firstDataMs ?? 0) >= 200, 'the end came about 300 ms after the first chunk');
});

t.test('Expect: 100-continue with a valid key: 100 sent, body and stamped headers reach the upstream', async (t) => {
  const body = '{"amount":"1.00"}';
  const before = upstream.requests.length;
  const r = await send(proxy.url, {
    method: 'POST',
    path: '/v1/transfers',
    headers: [
      AUTH,
      ['Expect', '100-continue'],
      ['Content-Type', 'application/json'],
      ['Content-Length', String(Buffer.byteLength(body))],
      ['X-Tenant-Id', 'evil'],
    ],
    body,
    waitForContinue: true,
  });
  t.ok(r.gotContinue, 'the client got 100 Continue');
  t.equal(r.status, 200, 'final 200');
  t.equal(upstream.requests.length, before + 1, 'upstream called once');
  const got = upstream.requests[before]!;
  t.equal(got.body.toString(), body, 'body arrived');
  t.same(upstream.headerLines(got, 'x-tenant-id'), [key.tenant], 'X-Tenant-Id stamped once');
  t.same(upstream.headerLines(got, 'x-credential-id'), [key.keyId], 'X-Credential-Id stamped');
  t.same(upstream.headerLines(got, 'x-request-id'), linesOf(r.rawHeaders, 'x-request-id'), 'X-Request-Id stamped');
  t.same(upstream.headerLines(got, 'x-forwarded-for'), ['127.0.0.1'], 'X-Forwarded-For stamped');
  t.same(upstream.headerLines(got, 'authorization'), [], 'no Authorization');
  t.same(upstream.headerLines(got, 'host'), [`127.0.0.1:${upstream.port}`], 'Host of the upstream');
});

t.test('Expect: 100-continue without a key: 401, no 100 Continue, upstream not called', async (t) => {
  const before = upstream.requests.length;
  const r = await send(proxy.url, {
    method: 'POST',
    path: '/v1/transfers',
    headers: [['Expect', '100-continue'], ['Content-Type', 'application/json'], ['Content-Length', '2']],
    body: '{}',
    waitForContinue: true,
    timeoutMs: 3000,
  });
  t.equal(r.status, 401);
  t.notOk(r.gotContinue, 'no 100 Continue before authentication');
  await sleep(50);
  t.equal(upstream.requests.length, before, 'upstream not called');
});


/** 64 MiB of a known byte pattern, written with back-pressure; `written` counts what the writer accepted. */
const BIG = 64 * 1024 * 1024;
const BLOCK = Buffer.alloc(64 * 1024);
for (let i = 0; i < BLOCK.length; i++) BLOCK[i] = (i * 7) % 251;

function writePattern(out: http.ServerResponse | http.ClientRequest): { written: number } {
  const progress = { written: 0 };
  const pump = (): void => {
    while (progress.written < BIG) {
      progress.written += BLOCK.length;
      if (!out.write(BLOCK)) {
        out.once('drain', pump);
        return;
      }
    }
    out.end();
  };
  pump();
  return progress;
}

/** Reads a stream of the pattern: how many bytes came, and whether every one was in place. */
function readPattern(from: http.IncomingMessage): Promise<{ received: number; intact: boolean }> {
  let received = 0;
  let intact = true;
  from.on('data', (chunk: Buffer) => {
    for (let i = 0; i < chunk.length; i++) if (chunk[i] !== (((received + i) % BLOCK.length) * 7) % 251) intact = false;
    received += chunk.length;
  });
  from.resume();
  return new Promise((resolve) => from.on('end', () => resolve({ received, intact })));
}

// Socket buffers and stream high-water marks hold a few MiB at most; without back-pressure the proxy
// would take in all 64 MiB while one side does not read.
const HELD_BACK = BIG / 4;

t.test('a client that stops reading holds the upstream back (back-pressure), and then gets every byte', async (t) => {
  let progress = { written: 0 };
  upstream.handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BIG) });
    progress = writePattern(res);
  };
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    http.get(`${proxy.url}/v1/export`, { headers: { authorization: AUTH[1] } }, resolve).on('error', reject);
  });
  t.equal(res.statusCode, 200);
  res.pause();
  await sleep(600);
  t.ok(progress.written < HELD_BACK, `the upstream was held back while the client did not read (${(progress.written / 2 ** 20).toFixed(1)} MiB written)`);
  const got = await readPattern(res);
  t.equal(got.received, BIG, 'every byte arrived');
  t.ok(got.intact, 'in order and unchanged');
});

t.test("an upstream that stops reading holds the client's upload back (back-pressure), then gets every byte", async (t) => {
  let startReading = (): void => {};
  const reading = new Promise<void>((resolve) => (startReading = resolve));
  const slow = http.createServer((req, res) => {
    req.pause();
    void reading.then(async () => {
      const got = await readPattern(req);
      res.end(JSON.stringify(got));
    });
  });
  slow.listen(0, '127.0.0.1');
  await new Promise((r) => slow.once('listening', r));
  const slowUrl = `http://127.0.0.1:${(slow.address() as { port: number }).port}`;
  const p = await startProxy({ upstreamUrl: slowUrl, credentialsYaml: CREDS });
  t.teardown(async () => {
    await p.close();
    slow.closeAllConnections();
    slow.close();
  });
  const req = http.request(`${p.url}/v1/uploads`, {
    method: 'POST',
    headers: { authorization: AUTH[1], 'content-type': 'application/octet-stream', 'content-length': String(BIG) },
  });
  const response = new Promise<http.IncomingMessage>((resolve, reject) => req.on('response', resolve).on('error', reject));
  const progress = writePattern(req);
  await sleep(600);
  t.ok(progress.written < HELD_BACK, `the client was held back while the upstream did not read (${(progress.written / 2 ** 20).toFixed(1)} MiB written)`);
  startReading();
  const res = await response;
  let text = '';
  for await (const c of res) text += String(c);
  t.equal(res.statusCode, 200);
  t.same(JSON.parse(text), { received: BIG, intact: true }, 'the upstream received every byte, in order and unchanged');
});

// SPEC §10 over real sockets: every proxy-made error (401, 403, 400 from the pipeline and from the
// HTTP parser, 431, 502) is exactly {code, message, requestId} as application/json, no-store, with
// one X-Request-Id line equal to requestId; proxied responses carry the proxy's X-Request-Id (never
// the upstream's or the client's) and the upstream receives that same id; messages echo nothing.
import t, { type Test } from 'tap';
import { startUpstream, type RecordingUpstream } from '../helpers/recording-upstream.js';
import { startProxy, type TestProxy } from '../helpers/start-proxy.js';
import { credentialsYaml, bearer, type KeySpec } from '../helpers/credentials.js';
import { request, rawRequest } from '../helpers/http-client.js';

interface Env {
  readonly proxy: TestProxy;
  readonly upstream: RecordingUpstream;
}

const key: KeySpec = { keyId: 'ck_test_errors', tenant: 'tnt_a', secret: 'sk_test_errors_secret' };
const reader: KeySpec = {
  keyId: 'ck_test_errors_reader',
  tenant: 'tnt_a',
  secret: 'sk_test_reader_secret',
  permissions: [{ methods: ['GET'], paths: ['/v1/vaults'] }],
};
const fenced: KeySpec = { keyId: 'ck_test_errors_fenced', tenant: 'tnt_fenced', secret: 'sk_test_fenced_secret' };

async function setup(t: Test): Promise<Env> {
  const upstream = await startUpstream();
  const proxy = await startProxy({
    upstreamUrl: upstream.url,
    credentialsYaml: credentialsYaml([{ id: 'tnt_a' }, { id: 'tnt_fenced', ipAllowList: ['10.0.0.0/8'] }], [key, reader, fenced]),
  });
  t.teardown(async () => {
    await proxy.close();
    await upstream.close();
  });
  return { proxy, upstream };
}

interface RawResponse {
  readonly status: number;
  /** [lower-case name, value] per line */
  readonly lines: ReadonlyArray<readonly [string, string]>;
  readonly body: string;
  all(name: string): string[];
}

/** Parses the first HTTP/1.1 response (Content-Length framed) out of raw bytes. */
function parseRaw(text: string): RawResponse {
  const end = text.indexOf('\r\n\r\n');
  const head = end === -1 ? text : text.slice(0, end);
  const [statusLine = '', ...rest] = head.split('\r\n');
  const lines = rest.map((l): [string, string] => {
    const i = l.indexOf(':');
    return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()];
  });
  const rawBody = end === -1 ? '' : text.slice(end + 4);
  let body: string;
  if (lines.some(([n, v]) => n === 'transfer-encoding' && /chunked/i.test(v))) {
    let rest = rawBody;
    let out = '';
    for (;;) {
      const nl = rest.indexOf('\r\n');
      const size = nl === -1 ? 0 : parseInt(rest.slice(0, nl), 16);
      if (!size) break;
      out += rest.slice(nl + 2, nl + 2 + size);
      rest = rest.slice(nl + 2 + size + 2);
    }
    body = Buffer.from(out, 'latin1').toString('utf8');
  } else {
    const length = Number(lines.find(([n]) => n === 'content-length')?.[1] ?? '0');
    body = Buffer.from(rawBody, 'latin1').subarray(0, length).toString('utf8');
  }
  return {
    status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? '0'),
    lines,
    body,
    all: (name) => lines.filter(([n]) => n === name.toLowerCase()).map(([, v]) => v),
  };
}

/** The §10 contract on one raw response. */
function assertErrorShape(t: Test, r: RawResponse, status: number, code: string, what: string): void {
  t.equal(r.status, status, `${what}: status ${status}`);
  t.same(r.all('content-type'), ['application/json'], `${what}: Content-Type: application/json`);
  t.same(r.all('cache-control'), ['no-store'], `${what}: Cache-Control: no-store`);
  const ids = r.all('x-request-id');
  t.equal(ids.length, 1, `${what}: exactly one X-Request-Id line`);
  t.match(ids[0] ?? '', /^req_[0-9A-Za-z_-]+$/, `${what}: X-Request-Id is req_…`);
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(r.body) as Record<string, unknown>;
  } catch {
    t.fail(`${what}: body is JSON: ${JSON.stringify(r.body)}`);
  }
  t.same(Object.keys(body).sort(), ['code', 'message', 'requestId'], `${what}: exactly code, message, requestId`);
  t.equal(body['code'], code, `${what}: code ${code}`);
  t.type(body['message'], 'string', `${what}: message is a string`);
  t.ok(String(body['message']).length > 0, `${what}: message not empty`);
  t.equal(body['requestId'], ids[0], `${what}: requestId equals X-Request-Id`);
  for (const secretish of ['127.0.0.1', key.keyId, reader.keyId, fenced.keyId, 'ck_nosuch']) {
    t.notOk(String(body['message']).includes(secretish), `${what}: message does not echo ${secretish}`);
  }
}

const host = (env: Env): string => `Host: 127.0.0.1:${env.proxy.port}\r\n`;

t.test('every proxy-made error has the §10 shape', async (t) => {
  const env = await setup(t);
  const cases: Array<[string, string, number, string]> = [
    ['401 missing', `GET /v1/vaults HTTP/1.1\r\n${host(env)}Connection: close\r\n\r\n`, 401, 'UNAUTHORIZED'],
    ['401 unknown key', `GET /v1/vaults HTTP/1.1\r\n${host(env)}Authorization: Bearer ck_nosuch:x\r\nConnection: close\r\n\r\n`, 401, 'UNAUTHORIZED'],
    ['403 allowlist', `GET /v1/vaults HTTP/1.1\r\n${host(env)}Authorization: ${bearer(fenced)}\r\nConnection: close\r\n\r\n`, 403, 'FORBIDDEN'],
    ['403 permission', `GET /v1/other HTTP/1.1\r\n${host(env)}Authorization: ${bearer(reader)}\r\nConnection: close\r\n\r\n`, 403, 'FORBIDDEN'],
    ['400 dot segment', `GET /v1/a/../vaults HTTP/1.1\r\n${host(env)}Authorization: ${bearer(key)}\r\nConnection: close\r\n\r\n`, 400, 'BAD_REQUEST'],
    ['400 encoded slash', `GET /v1/a%2fb HTTP/1.1\r\n${host(env)}Authorization: ${bearer(key)}\r\nConnection: close\r\n\r\n`, 400, 'BAD_REQUEST'],
    ['400 parser: garbage', 'NOT HTTP AT ALL\r\n\r\n', 400, 'BAD_REQUEST'],
  ];
  for (const [what, bytes, status, code] of cases) {
    const r = parseRaw(await rawRequest(env.proxy.port, bytes, 2000));
    assertErrorShape(t, r, status, code, what);
    if (status === 401) t.same(r.all('www-authenticate'), ['Bearer'], `${what}: WWW-Authenticate: Bearer`);
    else t.same(r.all('www-authenticate'), [], `${what}: no WWW-Authenticate`);
  }
  t.equal(env.upstream.requests.length, 0, 'upstream never called');
});

t.test('a request without Host gets the §10 400 too', async (t) => {
  const env = await setup(t);
  const r = parseRaw(await rawRequest(env.proxy.port, `GET /v1/vaults HTTP/1.1\r\nAuthorization: ${bearer(key)}\r\nConnection: close\r\n\r\n`, 2000));
  assertErrorShape(t, r, 400, 'BAD_REQUEST', 'no Host');
  t.equal(env.upstream.requests.length, 0, 'upstream never called');
});

t.test('nothing is sent after a response that said Connection: close', async (t) => {
  const env = await setup(t);
  const text = await rawRequest(env.proxy.port, `GET /v1/vaults HTTP/1.1\r\n${host(env)}Connection: close\r\n\r\nNOT HTTP AT ALL\r\n\r\n`, 2000);
  t.match(text, /^HTTP\/1\.1 401 /, 'the 401');
  t.equal(text.split('HTTP/1.1 ').length - 1, 1, 'exactly one response on the connection');
  t.equal(env.upstream.requests.length, 0, 'upstream never called');
});

t.test('431 for oversized headers still has the §10 shape', async (t) => {
  const env = await setup(t);
  const big = 'x'.repeat(64 * 1024);
  const r = parseRaw(await rawRequest(env.proxy.port, `GET /v1/vaults HTTP/1.1\r\n${host(env)}X-Big: ${big}\r\n\r\n`, 2000));
  t.equal(r.status, 431, '431');
  t.same(r.all('content-type'), ['application/json']);
  t.same(r.all('cache-control'), ['no-store']);
  t.equal(r.all('x-request-id').length, 1, 'one X-Request-Id');
  const body = JSON.parse(r.body) as Record<string, unknown>;
  t.same(Object.keys(body).sort(), ['code', 'message', 'requestId']);
  t.equal(body['requestId'], r.all('x-request-id')[0]);
  t.equal(env.upstream.requests.length, 0, 'upstream never called');
});

t.test('502 when the upstream is down has the §10 shape', async (t) => {
  const env = await setup(t);
  await env.upstream.close();
  const r = parseRaw(await rawRequest(env.proxy.port, `GET /v1/vaults HTTP/1.1\r\n${host(env)}Authorization: ${bearer(key)}\r\nConnection: close\r\n\r\n`, 4000));
  assertErrorShape(t, r, 502, 'UPSTREAM_UNAVAILABLE', 'upstream down');
  t.equal(env.upstream.requests.length, 0, 'upstream saw nothing');
});

t.test('HEAD rejections carry the headers without a body', async (t) => {
  const env = await setup(t);
  const r = await request(env.proxy.url, { method: 'HEAD', path: '/v1/vaults' });
  t.equal(r.status, 401);
  t.match(r.headers['x-request-id'], /^req_/);
  t.equal(r.headers['cache-control'], 'no-store');
  t.equal(r.headers['www-authenticate'], 'Bearer');
  t.equal(r.body.length, 0, 'no body');
  t.equal(env.upstream.requests.length, 0);
});

t.test('proxied responses carry the proxy’s X-Request-Id, the upstream received the same one', async (t) => {
  const env = await setup(t);
  env.upstream.handler = (_req, res) => {
    res.writeHead(200, [
      ['Content-Type', 'application/json'],
      ['X-Request-Id', 'upstream-id'],
      ['X-Upstream-Marker', 'kept'],
    ].flat());
    res.end('{"ok":true}');
  };
  const r = parseRaw(
    await rawRequest(
      env.proxy.port,
      `GET /v1/vaults HTTP/1.1\r\n${host(env)}Authorization: ${bearer(key)}\r\nX-Request-Id: client-id\r\nx-request-id: client-id-2\r\nConnection: close\r\n\r\n`,
      3000,
    ),
  );
  t.equal(r.status, 200, 'proxied 200');
  t.equal(r.body, '{"ok":true}', 'the upstream body');
  t.same(r.all('x-upstream-marker'), ['kept'], 'other upstream headers pass through');
  const ids = r.all('x-request-id');
  t.equal(ids.length, 1, 'exactly one X-Request-Id line');
  t.match(ids[0] ?? '', /^req_/, 'the proxy’s id');
  t.not(ids[0], 'upstream-id', 'not the upstream’s id');
  t.not(ids[0], 'client-id', 'not the client’s id');
  t.equal(env.upstream.requests.length, 1, 'upstream called once');
  const got = env.upstream.requests[0];
  t.same(got ? env.upstream.headerLines(got, 'x-request-id') : [], [ids[0]], 'upstream received exactly this X-Request-Id, once');
});

t.test('the upstream’s X-Request-Id is replaced in every spelling and count, also on upstream errors', async (t) => {
  const env = await setup(t);
  env.upstream.handler = (_req, res) => {
    res.writeHead(500, ['Content-Type', 'text/plain', 'X-REQUEST-ID', 'up-1', 'x-request-id', 'up-2']);
    res.end('upstream exploded');
  };
  const r = parseRaw(await rawRequest(env.proxy.port, `GET /v1/vaults HTTP/1.1\r\n${host(env)}Authorization: ${bearer(key)}\r\nConnection: close\r\n\r\n`, 3000));
  t.equal(r.status, 500, 'the upstream’s status passes through');
  t.equal(r.body, 'upstream exploded', 'the upstream’s body passes through');
  const ids = r.all('x-request-id');
  t.equal(ids.length, 1, 'one X-Request-Id line');
  t.match(ids[0] ?? '', /^req_/);
  const got = env.upstream.requests[0];
  t.same(got ? env.upstream.headerLines(got, 'x-request-id') : [], [ids[0]], 'same id upstream');
});

t.test('request ids are unique per request', async (t) => {
  const env = await setup(t);
  const seen = new Set<string>();
  for (let i = 0; i < 10; i++) {
    const r = await request(env.proxy.url, { path: '/v1/vaults', headers: i % 2 ? [['Authorization', bearer(key)]] : [] });
    const id = String(r.headers['x-request-id']);
    t.notOk(seen.has(id), `request ${i}: new id`);
    seen.add(id);
  }
  t.equal(env.upstream.requests.length, 5);
  const upstreamIds = env.upstream.requests.map((q) => env.upstream.headerLines(q, 'x-request-id')[0] ?? '');
  t.ok(upstreamIds.every((id) => seen.has(id)), 'the upstream saw the ids the clients got');
});

t.test('garbage pipelined behind a forwarded POST never replaces that POST’s response', async (t) => {
  // The POST is executed upstream; answering it with a 400 BAD_REQUEST would tell the client it was
  // refused. The parser error belongs to the garbage, after the POST's own response (or nothing).
  const env = await setup(t);
  env.upstream.handler = (_req, res) => {
    setTimeout(() => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end('{"created":true}');
    }, 150);
  };
  const body = '{"amount":5}';
  const text = await rawRequest(
    env.proxy.port,
    `POST /v1/transfers HTTP/1.1\r\n${host(env)}Authorization: ${bearer(key)}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${body.length}\r\n\r\n${body}NOT HTTP AT ALL\r\n\r\n`,
    2000,
  );
  for (let i = 0; i < 50 && env.upstream.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(env.upstream.requests.length, 1, 'the POST reached the upstream');
  t.equal(env.upstream.requests[0]?.body.toString('utf8'), body, 'with its body');
  t.notMatch(text, /^HTTP\/1\.1 400 /, 'the executed POST is not answered 400 BAD_REQUEST');
  if (text !== '') t.match(text, /^HTTP\/1\.1 201 /, 'any first response on the connection is the upstream’s 201');
});

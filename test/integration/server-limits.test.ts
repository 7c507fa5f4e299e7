// SPEC §12 server limits on the proxy listener, over raw sockets: a header block over 16 KiB gets 431
// (one just under passes), malformed request lines and a missing Host get 400 with a §10 body, and the
// upstream is never called for any of them; the configured keep-alive timeout closes idle connections.
import net from 'node:net';
import t, { type Test } from 'tap';
import { proxyFixture } from '../helpers/proxy-fixture.js';
import { credentialsYaml, bearer } from '../helpers/credentials.js';
import { rawRequest } from '../helpers/http-client.js';
import { headerOf, jsonOf, parseResponse, type RawResponse } from '../helpers/raw-response.js';

const key = { keyId: 'ck_test_limits', tenant: 'tnt_limits', secret: 'sk_test_limits_secret' };

const f = proxyFixture(t, {
  credentialsYaml: credentialsYaml([{ id: key.tenant }], [key]),
  config: { server: { keepAliveTimeout: '400ms' } },
});

async function send(text: string | Buffer, timeoutMs = 3000): Promise<RawResponse> {
  const raw = await rawRequest(f.proxy.port, text, timeoutMs);
  const r = parseResponse(raw);
  if (!r) throw new Error(`no HTTP response: ${JSON.stringify(raw.slice(0, 200))}`);
  return r;
}

function assertProblemBody(t: Test, r: RawResponse, status: number): void {
  t.equal(r.status, status, `status ${status}`);
  const ids = headerOf(r, 'x-request-id');
  t.equal(ids.length, 1, 'exactly one X-Request-Id');
  t.match(headerOf(r, 'content-type')[0], /^application\/json/, 'JSON');
  t.same(headerOf(r, 'cache-control'), ['no-store'], 'Cache-Control: no-store');
  const body = jsonOf(r);
  t.type(body['code'], 'string', 'a code');
  t.type(body['message'], 'string', 'a message');
  t.equal(body['requestId'], ids[0], 'requestId equals X-Request-Id');
}

const host = (): string => `Host: 127.0.0.1:${f.proxy.port}`;
const auth = (): string => `Authorization: ${bearer(key)}`;

t.test('a header block over 16 KiB → 431, upstream not called', async (t) => {
  const before = f.upstream.requests.length;
  const r = await send(`GET /v1/vaults HTTP/1.1\r\n${host()}\r\n${auth()}\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`);
  assertProblemBody(t, r, 431);
  t.equal(f.upstream.requests.length, before, 'upstream not called');
});

t.test('many header lines adding up to over 16 KiB → 431, upstream not called', async (t) => {
  const before = f.upstream.requests.length;
  const many = Array.from({ length: 300 }, (_, i) => `X-H${i}: ${'v'.repeat(60)}`).join('\r\n');
  const r = await send(`GET /v1/vaults HTTP/1.1\r\n${host()}\r\n${auth()}\r\n${many}\r\n\r\n`);
  assertProblemBody(t, r, 431);
  t.equal(f.upstream.requests.length, before, 'upstream not called');
});

t.test('a header block well under the limit (8 KiB) is accepted and forwarded intact', async (t) => {
  const before = f.upstream.requests.length;
  const value = 'b'.repeat(8 * 1024);
  const r = await send(`GET /v1/vaults HTTP/1.1\r\n${host()}\r\n${auth()}\r\nX-Big: ${value}\r\nConnection: close\r\n\r\n`);
  t.equal(r.status, 200);
  t.equal(f.upstream.requests.length, before + 1);
  t.same(f.upstream.headerLines(f.upstream.requests[before]!, 'x-big'), [value]);
});

const malformed: ReadonlyArray<readonly [string, string]> = [
  ['garbage request line', 'GARBAGE\r\n\r\n'],
  ['unknown HTTP version', 'GET /v1/vaults HTTP/9.9\r\n'],
  ['missing HTTP version (HTTP/0.9 form followed by headers)', 'GET /v1/vaults\r\n'],
  ['method broken by spaces', 'G E T /v1/vaults HTTP/1.1\r\n'],
  ['space inside the target', 'GET /v1/va ults HTTP/1.1\r\n'],
  ['header line without a colon', 'GET /v1/vaults HTTP/1.1\r\nNoColonHere\r\n'],
  ['space before the header colon', 'GET /v1/vaults HTTP/1.1\r\nX-Foo : 1\r\n'],
  ['control character in a header value', 'GET /v1/vaults HTTP/1.1\r\nX-Foo: a\x01b\r\n'],
];

for (const [name, start] of malformed) {
  t.test(`malformed request (${name}) → 400, upstream not called`, async (t) => {
    const before = f.upstream.requests.length;
    const text = start === 'GARBAGE\r\n\r\n' ? start : `${start}${host()}\r\n${auth()}\r\n\r\n`;
    const r = await send(text);
    assertProblemBody(t, r, 400);
    t.equal(jsonOf(r)['code'], 'BAD_REQUEST');
    t.equal(f.upstream.requests.length, before, 'upstream not called');
  });
}

t.test('an HTTP/1.1 request without Host → 400, upstream not called', async (t) => {
  const before = f.upstream.requests.length;
  const r = await send(`GET /v1/vaults HTTP/1.1\r\n${auth()}\r\n\r\n`);
  assertProblemBody(t, r, 400);
  t.equal(jsonOf(r)['code'], 'BAD_REQUEST');
  t.equal(f.upstream.requests.length, before, 'upstream not called');
});

t.test('an HTTP/1.1 request with two Host lines → 400, upstream not called (RFC 9112 §3.2)', async (t) => {
  const before = f.upstream.requests.length;
  const r = await send(`GET /v1/vaults HTTP/1.1\r\n${host()}\r\nHost: evil.example\r\n${auth()}\r\nConnection: close\r\n\r\n`);
  assertProblemBody(t, r, 400);
  t.equal(f.upstream.requests.length, before, 'upstream not called');
});

t.test('the configured keep-alive timeout closes an idle client connection', async (t) => {
  const before = f.upstream.requests.length;
  const socket = net.connect(f.proxy.port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  let received = '';
  let answeredAt = 0;
  const closedAfter = await new Promise<number>((resolve, reject) => {
    const guard = setTimeout(() => reject(new Error('connection still open after 4 s')), 4000);
    socket.on('data', (c: Buffer) => {
      received += c.toString('latin1');
      if (!answeredAt && received.includes('{"ok":true}')) answeredAt = performance.now();
    });
    socket.on('close', () => {
      clearTimeout(guard);
      resolve(answeredAt ? performance.now() - answeredAt : -1);
    });
    socket.on('error', () => undefined);
    socket.write(`GET /v1/vaults HTTP/1.1\r\n${host()}\r\n${auth()}\r\n\r\n`);
  });
  t.match(received, /^HTTP\/1\.1 200 /, 'the request was answered on a keep-alive connection');
  t.equal(f.upstream.requests.length, before + 1);
  t.ok(closedAfter >= 0, 'closed after the answer');
  t.ok(closedAfter < 2500, `idle connection closed by the server after ${Math.round(closedAfter)} ms (keepAliveTimeout 400ms)`);
});

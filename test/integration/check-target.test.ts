// SPEC §7 request targets, over raw sockets so the bytes are exactly what a client could send:
// non-canonical targets (dot segments, `//`, encoded `/` `\` NUL, backslashes, absolute-form to
// another host) get 400 BAD_REQUEST (§10 body) and never reach the upstream; canonical targets reach
// the upstream byte-for-byte as sent (no normalisation of the path, the encoding or the query).
import t, { type Test } from 'tap';
import { startUpstream, type RecordingUpstream } from '../helpers/recording-upstream.js';
import { startProxy, type TestProxy } from '../helpers/start-proxy.js';
import { credentialsYaml, bearer } from '../helpers/credentials.js';
import { rawRequest } from '../helpers/http-client.js';
import { headerOf, jsonOf, parseResponses, type RawResponse } from '../helpers/raw-response.js';

const key = { keyId: 'ck_test_target', tenant: 'tnt_target', secret: 'sk_test_target_secret' };

let upstream: RecordingUpstream;
let proxy: TestProxy;

t.before(async () => {
  upstream = await startUpstream();
  proxy = await startProxy({ upstreamUrl: upstream.url, credentialsYaml: credentialsYaml([{ id: key.tenant }], [key]) });
});
t.teardown(async () => {
  await proxy.close();
  await upstream.close();
});

/** One request with exactly this target; `Connection: close` so the exchange ends with the response. */
async function send(target: string, opts: { auth?: boolean; host?: string; idempotencyKey?: string } = {}): Promise<RawResponse> {
  const method = opts.idempotencyKey === undefined ? 'GET' : 'POST';
  const lines = [`${method} ${target} HTTP/1.1`, `Host: ${opts.host ?? `127.0.0.1:${proxy.port}`}`];
  if (opts.auth !== false) lines.push(`Authorization: ${bearer(key)}`);
  // A keyed POST is forwarded from the buffered body, on a path of its own in the forwarder.
  if (opts.idempotencyKey !== undefined) lines.push(`Idempotency-Key: ${opts.idempotencyKey}`, 'Content-Length: 2');
  lines.push('Connection: close', '', opts.idempotencyKey === undefined ? '' : '{}');
  const raw = await rawRequest(proxy.port, Buffer.from(lines.join('\r\n'), 'latin1'), 3000);
  const responses = parseResponses(raw);
  const first = responses[0];
  if (!first) throw new Error(`no HTTP response for ${JSON.stringify(target)}: ${JSON.stringify(raw)}`);
  return first;
}

function assertBadRequest(t: Test, r: RawResponse): void {
  t.equal(r.status, 400, 'status 400');
  const requestId = headerOf(r, 'x-request-id');
  t.equal(requestId.length, 1, 'exactly one X-Request-Id');
  t.match(headerOf(r, 'content-type')[0], /^application\/json/, 'JSON body');
  t.same(headerOf(r, 'cache-control'), ['no-store'], 'Cache-Control: no-store');
  const body = jsonOf(r);
  t.equal(body['code'], 'BAD_REQUEST', 'code BAD_REQUEST');
  t.type(body['message'], 'string', 'message present');
  t.equal(body['requestId'], requestId[0], 'requestId equals X-Request-Id');
}

const nonCanonical: ReadonlyArray<readonly [string, string]> = [
  ['dot-dot segment', '/v1/a/../b'],
  ['dot segment', '/v1/./a'],
  ['trailing dot-dot', '/v1/a/..'],
  ['trailing dot', '/v1/a/.'],
  ['encoded dot-dot (lower)', '/v1/%2e%2e/b'],
  ['encoded dot (upper)', '/v1/%2E/b'],
  ['half-encoded dot-dot', '/v1/.%2e/b'],
  ['half-encoded dot-dot (other half)', '/v1/%2E./b'],
  ['leading double slash', '//v1/a'],
  ['inner double slash', '/v1//a'],
  ['trailing double slash', '/v1/a//'],
  ['encoded slash (lower)', '/v1/a%2fb'],
  ['encoded slash (upper)', '/v1/a%2Fb'],
  ['encoded backslash', '/v1/a%5cb'],
  ['encoded backslash (upper)', '/v1/a%5Cb'],
  ['literal backslash', '/v1/a\\b'],
  ['encoded NUL', '/v1/a%00b'],
  ['absolute-form to another host', 'http://evil.example/v1'],
  ['absolute-form to another host with path', 'http://evil.example/v1/vaults'],
  ['asterisk-form on GET', '*'],
];

for (const [name, target] of nonCanonical) {
  t.test(`non-canonical target: ${name} (${target}) → 400, upstream not called`, async (t) => {
    const before = upstream.requests.length;
    const r = await send(target);
    assertBadRequest(t, r);
    t.equal(upstream.requests.length, before, 'upstream not called');
  });
}

t.test('a non-canonical target without a key is refused by authentication first (401)', async (t) => {
  const before = upstream.requests.length;
  const r = await send('/v1/a/../b', { auth: false });
  t.equal(r.status, 401);
  t.same(headerOf(r, 'www-authenticate'), ['Bearer']);
  t.equal(upstream.requests.length, before, 'upstream not called');
});

const canonical: ReadonlyArray<readonly [string, string]> = [
  ['encoded space', '/v1/a%20b'],
  ['dot inside a segment', '/v1/file.txt'],
  ['segment starting with two dots', '/v1/..a'],
  ['segment ending with two dots', '/v1/a..'],
  ['three dots', '/v1/.../b'],
  ['encoded unreserved character stays encoded', '/v1/%41bc'],
  ['lower-case percent-encoding stays as sent', '/v1/caf%c3%a9'],
  ['trailing slash', '/v1/vaults/'],
  ['root', '/'],
  ['sub-delims in a segment', '/v1/a;b=c,d'],
  ['query with dot segments and encoded slash', '/v1/a?x=../y&z=%2F'],
  ['query with double slashes and backslash escape', '/v1/a?next=//evil.example/%5c'],
  ['repeated query parameters', '/v1/a?b=1&b=2&c'],
  ['query containing a second question mark', '/v1/a?x=1?y=2'],
  ['empty query', '/v1/a?'],
  ['characters a URL parser would re-encode (braces, quote in query)', "/v1/{vault}/a|b?q='x'&r=<y>"],
];

for (const [name, target] of canonical) {
  t.test(`canonical target: ${name} (${target}) → forwarded byte-for-byte`, async (t) => {
    const before = upstream.requests.length;
    const r = await send(target);
    t.equal(r.status, 200, 'status 200');
    t.equal(upstream.requests.length, before + 1, 'upstream called once');
    t.equal(upstream.requests[before]?.url, target, 'upstream received the target as sent');
    t.equal(upstream.requests[before]?.method, 'GET');
  });
}

let keyed = 0;
for (const [name, target] of canonical) {
  t.test(`canonical target of a keyed POST: ${name} (${target}) → forwarded byte-for-byte`, async (t) => {
    const before = upstream.requests.length;
    const r = await send(target, { idempotencyKey: `target-${++keyed}` });
    t.equal(r.status, 200, 'status 200');
    t.equal(upstream.requests.length, before + 1, 'upstream called once');
    t.equal(upstream.requests[before]?.url, target, 'upstream received the target as sent');
    t.equal(upstream.requests[before]?.method, 'POST');
    t.equal(upstream.requests[before]?.body.toString(), '{}', 'upstream received the body');
  });
}

t.test('absolute-form naming the Host itself reaches the upstream in origin-form', async (t) => {
  const before = upstream.requests.length;
  const host = `127.0.0.1:${proxy.port}`;
  const r = await send(`http://${host}/v1/vaults?x=1`, { host });
  t.equal(r.status, 200, 'status 200');
  t.equal(upstream.requests.length, before + 1, 'upstream called once');
  t.equal(upstream.requests[before]?.url, '/v1/vaults?x=1', 'upstream received the origin-form target');
});

t.test('absolute-form whose Host agrees with it is refused or forwarded in origin-form, never as another path', async (t) => {
  const before = upstream.requests.length;
  const r = await send('http://evil.example/v1/vaults', { host: 'evil.example' });
  if (r.status === 400) {
    assertBadRequest(t, r);
    t.equal(upstream.requests.length, before, 'upstream not called');
  } else {
    t.equal(r.status, 200, 'status 200 when accepted');
    t.equal(upstream.requests.length, before + 1, 'upstream called once');
    t.equal(upstream.requests[before]?.url, '/v1/vaults', 'upstream received the path that was checked');
    t.same(upstream.headerLines(upstream.requests[before]!, 'host'), [`127.0.0.1:${upstream.port}`], 'Host is the upstream');
  }
});

/** An authenticated GET of `target`, or with an Idempotency-Key a keyed POST of `{}`, on its own connection. */
async function getOrKeyedPost(port: number, target: string, idempotencyKey: string | undefined): Promise<RawResponse | undefined> {
  const lines = [`${idempotencyKey === undefined ? 'GET' : 'POST'} ${target} HTTP/1.1`, `Host: 127.0.0.1:${port}`, `Authorization: ${bearer(key)}`];
  if (idempotencyKey !== undefined) lines.push(`Idempotency-Key: ${idempotencyKey}`, 'Content-Length: 2');
  lines.push('Connection: close', '', idempotencyKey === undefined ? '' : '{}');
  return parseResponses(await rawRequest(port, Buffer.from(lines.join('\r\n'), 'latin1'), 3000))[0];
}

t.test('an upstream URL with a path: every target is forwarded below it, GET and keyed POST alike', async (t) => {
  const prefixed = await startProxy({ upstreamUrl: `${upstream.url}/custody/api/`, credentialsYaml: credentialsYaml([{ id: key.tenant }], [key]) });
  t.teardown(() => prefixed.close());
  const cases: ReadonlyArray<readonly [string, string | undefined]> = [
    ['/v1/vaults?x=1&y=', undefined],
    ['/v1/vaults?', undefined],
    ['/', undefined],
    ['/v1/withdrawals?a=b', 'prefix-key-1'],
  ];
  for (const [target, idempotencyKey] of cases) {
    const before = upstream.requests.length;
    const r = await getOrKeyedPost(prefixed.port, target, idempotencyKey);
    t.equal(r?.status, 200, `${target}: 200`);
    t.equal(upstream.requests.length, before + 1, `${target}: upstream called once`);
    t.equal(upstream.requests[before]?.url, `/custody/api${target}`, `${target}: upstream received it below its own path`);
  }
});

t.test('an upstream on IPv6 loopback ([::1]): forwarded there, GET and keyed POST, with Host naming it in brackets', async (t) => {
  const v6 = await startUpstream(undefined, '::1');
  t.teardown(() => v6.close());
  const proxy6 = await startProxy({ upstreamUrl: `${v6.url}/base`, credentialsYaml: credentialsYaml([{ id: key.tenant }], [key]) });
  t.teardown(() => proxy6.close());
  for (const idempotencyKey of [undefined, 'v6-key-1']) {
    const before = v6.requests.length;
    const r = await getOrKeyedPost(proxy6.port, '/v1/vaults', idempotencyKey);
    t.equal(r?.status, 200, `${idempotencyKey ?? 'GET'}: 200`);
    t.equal(v6.requests.length, before + 1, 'the IPv6 upstream was called once');
    t.equal(v6.requests[before]?.url, '/base/v1/vaults', 'below its path');
    t.same(v6.headerLines(v6.requests[before]!, 'host'), [`[::1]:${v6.port}`], 'Host is the upstream, bracketed');
    t.same(v6.headerLines(v6.requests[before]!, 'x-tenant-id'), [key.tenant], 'stamped');
  }
});

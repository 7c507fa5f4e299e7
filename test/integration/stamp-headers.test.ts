// SPEC §7 "what the upstream receives", asserted on the raw header lines the recording upstream got:
// the proxy's own headers (X-Tenant-Id, X-Credential-Id, X-Request-Id, X-Forwarded-For/-Proto, Host)
// exactly once whatever the client sent; credentials, `_` names, hop-by-hop and Connection-listed
// headers removed (never the proxy's own or Idempotency-Key); no protocol upgrade; end-to-end headers kept.
import t, { type Test } from 'tap';
import type { Received } from '../helpers/recording-upstream.js';
import { proxyFixture } from '../helpers/proxy-fixture.js';
import { credentialsYaml, bearer } from '../helpers/credentials.js';
import { request, type Reply } from '../helpers/http-client.js';

const key = { keyId: 'ck_test_hdrs', tenant: 'tnt_headers', secret: 'sk_test_headers_secret' };
const AUTH: readonly [string, string] = ['Authorization', bearer(key)];

const f = proxyFixture(t, { credentialsYaml: credentialsYaml([{ id: key.tenant }, { id: 'tnt_other' }], [key]) });

interface Exchange {
  readonly reply: Reply;
  readonly got: Received;
  lines(name: string): string[];
  /** every raw header name the upstream received */
  readonly names: string[];
}

/** Sends one request and returns the single request the upstream received for it. */
async function exchange(
  t: Test,
  headers: ReadonlyArray<readonly [string, string]>,
  opts: { method?: string; path?: string; body?: string | Buffer } = {},
): Promise<Exchange> {
  const before = f.upstream.requests.length;
  const reply = await request(f.proxy.url, { method: opts.method ?? 'GET', path: opts.path ?? '/v1/vaults', headers, body: opts.body });
  t.equal(f.upstream.requests.length, before + 1, 'upstream received exactly one request');
  const got = f.upstream.requests[before];
  if (!got) throw new Error(`upstream received nothing (client got ${reply.status} ${reply.text})`);
  const names: string[] = [];
  for (let i = 0; i < got.rawHeaders.length; i += 2) names.push(got.rawHeaders[i] ?? '');
  return { reply, got, names, lines: (name) => f.upstream.headerLines(got, name) };
}

const upstreamConnectionIsOwn = (values: string[]): boolean => values.every((v) => v === 'keep-alive' || v === 'close');

const tenantSpoofs: ReadonlyArray<readonly [string, ReadonlyArray<readonly [string, string]>]> = [
  ['X-Tenant-Id: evil', [['X-Tenant-Id', 'evil']]],
  ['x-tenant-id: evil', [['x-tenant-id', 'evil']]],
  ['X-TENANT-ID: evil', [['X-TENANT-ID', 'evil']]],
  ['two X-Tenant-Id lines', [['X-Tenant-Id', 'evil'], ['X-Tenant-Id', 'tnt_other']]],
  ['another real tenant id', [['X-Tenant-Id', 'tnt_other']]],
  ['X_Tenant_Id: evil', [['X_Tenant_Id', 'evil']]],
  ['x_tenant-id: evil', [['x_tenant-id', 'evil']]],
  ['X-Tenant_Id: evil', [['X-Tenant_Id', 'evil']]],
  ['all spellings at once', [['X-Tenant-Id', 'evil'], ['x_tenant_id', 'evil'], ['X-TENANT-ID', 'evil']]],
];

for (const [name, spoof] of tenantSpoofs) {
  t.test(`X-Tenant-Id is the credential's tenant exactly once (client sent ${name})`, async (t) => {
    const x = await exchange(t, [AUTH, ...spoof]);
    t.equal(x.reply.status, 200, 'client got 200');
    t.same(x.lines('x-tenant-id'), [key.tenant], 'exactly one X-Tenant-Id line with the tenant');
    t.same(x.names.filter((n) => n.includes('_')), [], 'no header name with _ reaches the upstream');
    t.notOk(x.got.rawHeaders.some((v) => v === 'evil' || v === 'tnt_other'), 'no spoofed value reaches the upstream');
  });
}

t.test('any header whose name contains _ is dropped; the same name with - passes', async (t) => {
  const x = await exchange(t, [AUTH, ['X_Custom', '1'], ['X-Custom', '2'], ['Some_Other_Header', 'v'], ['_', 'u']]);
  t.equal(x.reply.status, 200);
  t.same(x.lines('x-custom'), ['2'], 'X-Custom passes unchanged, X_Custom does not');
  t.same(x.lines('x_custom'), [], 'X_Custom dropped');
  t.same(x.lines('some_other_header'), [], 'Some_Other_Header dropped');
  t.same(x.names.filter((n) => n.includes('_')), [], 'no header name with _ at all');
});

t.test('X-Credential-Id is the key id; client-sent spellings are dropped', async (t) => {
  const x = await exchange(t, [AUTH, ['X-Credential-Id', 'ck_evil'], ['x-credential-id', 'ck_evil2'], ['X_Credential_Id', 'ck_evil3']]);
  t.equal(x.reply.status, 200);
  t.same(x.lines('x-credential-id'), [key.keyId], 'exactly one X-Credential-Id line with the key id');
  t.notOk(x.got.rawHeaders.some((v) => v.startsWith('ck_evil')), 'no client value reaches the upstream');
});

t.test("X-Request-Id is the response's request id; the client's is dropped", async (t) => {
  const x = await exchange(t, [AUTH, ['X-Request-Id', 'req_client_chosen'], ['x-request-id', 'second']]);
  t.equal(x.reply.status, 200);
  const responseId = x.reply.headers['x-request-id'];
  t.match(responseId, /^req_[0-9a-f]{32}$/, 'response carries one generated X-Request-Id');
  t.same(x.lines('x-request-id'), [responseId], 'upstream got exactly that id, once');
  t.not(responseId, 'req_client_chosen', "the client's id is not adopted");
});

t.test('X-Forwarded-For is the TCP peer only (no trusted proxies): client values are dropped', async (t) => {
  const x = await exchange(t, [AUTH, ['X-Forwarded-For', '203.0.113.9'], ['X-Forwarded-For', '198.51.100.1, 10.0.0.1'], ['X_Forwarded_For', '1.2.3.4']]);
  t.equal(x.reply.status, 200);
  t.same(x.lines('x-forwarded-for'), ['127.0.0.1'], 'exactly one X-Forwarded-For with the client IP');
});

t.test('X-Forwarded-For is set even when the client sent none', async (t) => {
  const x = await exchange(t, [AUTH]);
  t.same(x.lines('x-forwarded-for'), ['127.0.0.1']);
});

t.test('X-Forwarded-Proto is http; a client-sent https is not believed without a trusted proxy', async (t) => {
  const x = await exchange(t, [AUTH, ['X-Forwarded-Proto', 'https']]);
  t.equal(x.reply.status, 200);
  t.same(x.lines('x-forwarded-proto'), ['http'], 'exactly one X-Forwarded-Proto: http');
  const y = await exchange(t, [AUTH]);
  t.same(y.lines('x-forwarded-proto'), ['http'], 'set when the client sent none');
});

t.test("Host is the upstream's host:port, not the client's", async (t) => {
  const x = await exchange(t, [['Host', 'custody.example.com'], AUTH]);
  t.equal(x.reply.status, 200);
  t.same(x.lines('host'), [`127.0.0.1:${f.upstream.port}`], 'exactly one Host line naming the upstream');
});

t.test('Authorization and Proxy-Authorization never reach the upstream', async (t) => {
  const x = await exchange(t, [AUTH, ['Proxy-Authorization', 'Basic dXNlcjpwYXNz']]);
  t.equal(x.reply.status, 200);
  t.same(x.lines('authorization'), [], 'no Authorization');
  t.same(x.lines('proxy-authorization'), [], 'no Proxy-Authorization');
  t.notOk(x.got.rawHeaders.some((v) => v.includes(key.secret)), 'the secret appears in no header');
});

t.test('hop-by-hop request headers are removed (without being listed in Connection)', async (t) => {
  const x = await exchange(t, [
    AUTH,
    ['Keep-Alive', 'timeout=99, max=7'],
    ['TE', 'trailers'],
    ['Trailer', 'X-Checksum'],
    ['Transfer-Encoding', 'chunked'],
    ['Proxy-Connection', 'keep-alive'],
    ['Upgrade', 'websocket'],
    ['HTTP2-Settings', 'AAMAAABkAARAAAAAAAIAAAAA'],
  ], { method: 'POST', path: '/v1/transfers', body: 'chunked-body' });
  t.equal(x.reply.status, 200);
  t.equal(x.got.body.toString('utf8'), 'chunked-body', 'body intact');
  t.same(x.lines('keep-alive'), [], 'Keep-Alive removed');
  t.same(x.lines('te'), [], 'TE removed');
  t.same(x.lines('trailer'), [], 'Trailer removed');
  t.same(x.lines('proxy-connection'), [], 'Proxy-Connection removed');
  t.same(x.lines('upgrade'), [], 'Upgrade removed');
  t.same(x.lines('http2-settings'), [], 'HTTP2-Settings removed');
  t.ok(upstreamConnectionIsOwn(x.lines('connection')), "Connection is only the proxy's own keep-alive/close");
});

t.test('Connection: keep-alive and Keep-Alive from the client are not forwarded', async (t) => {
  const x = await exchange(t, [AUTH, ['Connection', 'keep-alive'], ['Keep-Alive', 'timeout=99, max=7']]);
  t.equal(x.reply.status, 200);
  t.same(x.lines('keep-alive'), [], 'Keep-Alive removed');
  t.ok(upstreamConnectionIsOwn(x.lines('connection')), "Connection is only the proxy's own keep-alive/close");
});

t.test('a Connection listing removes listed end-to-end headers but never the proxy\'s own, Idempotency-Key or the framing', async (t) => {
  const body = '{"amount":"10.00","asset":"BTC"}';
  const idem = `idem-conn-${process.pid}-${Date.now()}`;
  const x = await exchange(
    t,
    [
      AUTH,
      ['Connection', 'X-Tenant-Id, X-Request-Id, X-Credential-Id, X-Forwarded-For, Idempotency-Key, Content-Length, Content-Type, X-Foo'],
      ['X-Foo', '1'],
      ['X-Bar', 'kept'],
      ['Idempotency-Key', idem],
      ['Content-Type', 'application/json'],
      ['Content-Length', String(Buffer.byteLength(body))],
    ],
    { method: 'POST', path: '/v1/transfers', body },
  );
  t.equal(x.reply.status, 200, 'client got 200');
  t.same(x.lines('x-foo'), [], 'X-Foo (listed) removed');
  t.same(x.lines('x-bar'), ['kept'], 'X-Bar (not listed) kept');
  t.same(x.lines('x-tenant-id'), [key.tenant], 'X-Tenant-Id still stamped');
  t.same(x.lines('x-request-id'), [x.reply.headers['x-request-id']], 'X-Request-Id still stamped');
  t.same(x.lines('x-credential-id'), [key.keyId], 'X-Credential-Id still stamped');
  t.same(x.lines('x-forwarded-for'), ['127.0.0.1'], 'X-Forwarded-For still stamped');
  t.same(x.lines('idempotency-key'), [idem], 'Idempotency-Key arrives unchanged');
  t.same(x.lines('content-type'), ['application/json'], 'Content-Type arrives');
  t.equal(x.got.method, 'POST');
  t.equal(x.got.body.toString('utf8'), body, 'the body arrives intact');
  t.ok(upstreamConnectionIsOwn(x.lines('connection')), 'the client Connection listing is not forwarded');
});

t.test('Idempotency-Key passes unchanged (bare and quoted, keyed and unkeyed methods)', async (t) => {
  const quoted = `"idem-quoted-${process.pid}-${Date.now()}"`;
  const a = await exchange(t, [AUTH, ['Idempotency-Key', quoted]], { method: 'GET' });
  t.equal(a.reply.status, 200);
  t.same(a.lines('idempotency-key'), [quoted], 'GET: quoted key unchanged');
  const bare = `idem-bare-${process.pid}-${Date.now()}`;
  const b = await exchange(t, [AUTH, ['Idempotency-Key', bare], ['Content-Type', 'application/json']], {
    method: 'POST',
    path: '/v1/transfers',
    body: '{}',
  });
  t.equal(b.reply.status, 200);
  t.same(b.lines('idempotency-key'), [bare], 'POST: bare key unchanged');
  t.equal(b.got.body.toString('utf8'), '{}');
});

t.test('Upgrade: websocket is forwarded as a normal request (no 101, no Upgrade)', async (t) => {
  const x = await exchange(t, [
    AUTH,
    ['Connection', 'Upgrade'],
    ['Upgrade', 'websocket'],
    ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='],
    ['Sec-WebSocket-Version', '13'],
  ]);
  t.equal(x.reply.status, 200, 'a normal 200, not 101');
  t.equal(x.reply.headers['upgrade'], undefined, 'no Upgrade in the response');
  t.same(x.lines('upgrade'), [], 'upstream got no Upgrade');
  t.ok(upstreamConnectionIsOwn(x.lines('connection')), 'upstream got no Connection: Upgrade');
  t.equal(x.got.method, 'GET');
});

t.test('Upgrade: h2c with HTTP2-Settings is forwarded as a normal request', async (t) => {
  const x = await exchange(t, [
    AUTH,
    ['Connection', 'Upgrade, HTTP2-Settings'],
    ['Upgrade', 'h2c'],
    ['HTTP2-Settings', 'AAMAAABkAARAAAAAAAIAAAAA'],
  ]);
  t.equal(x.reply.status, 200, 'a normal 200, not 101');
  t.same(x.lines('upgrade'), [], 'upstream got no Upgrade');
  t.same(x.lines('http2-settings'), [], 'upstream got no HTTP2-Settings');
  t.ok(upstreamConnectionIsOwn(x.lines('connection')), 'upstream got no Connection: Upgrade');
});

t.test('custom end-to-end headers pass through unchanged', async (t) => {
  const x = await exchange(
    t,
    [
      AUTH,
      ['X-Custom', 'Some Value; with=params'],
      ['Content-Type', 'application/vnd.custody+json; charset=utf-8'],
      ['Accept', 'application/json, text/plain;q=0.5'],
      ['Accept-Language', 'en-GB'],
      ['User-Agent', 'custody-client/1.2'],
      ['If-None-Match', '"etag-1"'],
    ],
    { method: 'PUT', path: '/v1/vaults/v1', body: '{"name":"cold"}' },
  );
  t.equal(x.reply.status, 200);
  t.same(x.lines('x-custom'), ['Some Value; with=params']);
  t.same(x.lines('content-type'), ['application/vnd.custody+json; charset=utf-8']);
  t.same(x.lines('accept'), ['application/json, text/plain;q=0.5']);
  t.same(x.lines('accept-language'), ['en-GB']);
  t.same(x.lines('user-agent'), ['custody-client/1.2']);
  t.same(x.lines('if-none-match'), ['"etag-1"']);
  t.equal(x.got.body.toString('utf8'), '{"name":"cold"}');
});

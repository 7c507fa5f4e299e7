// SPEC §4/§6 per-credential permissions over real sockets: method + canonical path rules with `*`
// (one segment) and `**` (any rest), several rules, no rules = everything, the 403 being identical
// to an allowlist denial (minus requestId), and the order auth → allowlist → permissions.
// Each case checks whether the recording upstream was called.
import t, { type Test } from 'tap';
import type { IncomingHttpHeaders } from 'node:http';
import { startUpstream, type RecordingUpstream } from '../helpers/recording-upstream.js';
import { startProxy, type TestProxy } from '../helpers/start-proxy.js';
import { credentialsYaml, bearer, type KeySpec, type TenantSpec } from '../helpers/credentials.js';
import { request, rawRequest, type Reply } from '../helpers/http-client.js';

interface Env {
  readonly proxy: TestProxy;
  readonly upstream: RecordingUpstream;
}

async function setup(t: Test, tenants: TenantSpec[], keys: KeySpec[]): Promise<Env> {
  const upstream = await startUpstream();
  const proxy = await startProxy({ upstreamUrl: upstream.url, credentialsYaml: credentialsYaml(tenants, keys) });
  t.teardown(async () => {
    await proxy.close();
    await upstream.close();
  });
  return { proxy, upstream };
}

const reader: KeySpec = {
  keyId: 'ck_test_reader',
  tenant: 'tnt_a',
  secret: 'sk_test_reader_secret',
  permissions: [{ methods: ['GET'], paths: ['/v1/vaults', '/v1/vaults/*', '/v1/reports/**'] }],
};
const writer: KeySpec = {
  keyId: 'ck_test_writer',
  tenant: 'tnt_a',
  secret: 'sk_test_writer_secret',
  permissions: [
    { methods: ['GET'], paths: ['/v1/vaults/*'] },
    { methods: ['POST', 'PUT'], paths: ['/v1/transfers', '/v1/vaults/*/addresses'] },
  ],
};
const anyMethod: KeySpec = {
  keyId: 'ck_test_anymethod',
  tenant: 'tnt_a',
  secret: 'sk_test_any_secret',
  permissions: [{ methods: ['*'], paths: ['/v1/wallets/**'] }],
};
const unrestricted: KeySpec = { keyId: 'ck_test_all', tenant: 'tnt_a', secret: 'sk_test_all_secret' };
const fenced: KeySpec = { keyId: 'ck_test_fenced', tenant: 'tnt_fenced', secret: 'sk_test_fenced_secret' };
const fencedReader: KeySpec = { ...reader, keyId: 'ck_test_fenced_reader', tenant: 'tnt_fenced', secret: 'sk_fenced_reader' };

const tenants: TenantSpec[] = [{ id: 'tnt_a' }, { id: 'tnt_fenced', ipAllowList: ['10.0.0.0/8'] }];
const allKeys = [reader, writer, anyMethod, unrestricted, fenced, fencedReader];

function assertForbidden(t: Test, r: Reply, k: KeySpec, what: string): void {
  t.equal(r.status, 403, `${what}: 403`);
  const body = r.json();
  t.same(Object.keys(body).sort(), ['code', 'message', 'requestId'], `${what}: body keys`);
  t.equal(body['code'], 'FORBIDDEN', `${what}: FORBIDDEN`);
  t.equal(body['requestId'], r.headers['x-request-id'], `${what}: requestId = X-Request-Id`);
  t.notMatch(String(body['message']), /permission|method|path|scope|allow|\bip\b/i, `${what}: message does not say which check failed`);
  t.notOk(r.text.includes(k.keyId), `${what}: key id not echoed`);
  t.notOk(r.text.includes('127.0.0.1'), `${what}: client IP not echoed`);
  t.equal(r.headers['cache-control'], 'no-store', `${what}: no-store`);
  t.match(r.headers['content-type'] ?? '', /^application\/json\b/, `${what}: JSON`);
}

async function expectCase(t: Test, env: Env, k: KeySpec, method: string, path: string, status: 200 | 403): Promise<Reply> {
  const before = env.upstream.requests.length;
  // node:http frames a body with Content-Length only for these methods (a DELETE body would go unframed)
  const hasBody = method === 'POST' || method === 'PUT' || method === 'PATCH';
  const r = await request(env.proxy.url, {
    method,
    path,
    headers: [['Authorization', bearer(k)], ...(hasBody ? ([['Content-Type', 'application/json']] as Array<[string, string]>) : [])],
    ...(hasBody ? { body: '{"n":1}' } : {}),
  });
  const what = `${k.keyId} ${method} ${path}`;
  if (status === 200) {
    t.equal(r.status, 200, `${what}: 200`);
    t.equal(env.upstream.requests.length, before + 1, `${what}: forwarded`);
    const got = env.upstream.requests[before];
    t.equal(got?.method, method, `${what}: upstream method`);
    t.equal(got?.url, path, `${what}: upstream target`);
  } else {
    assertForbidden(t, r, k, what);
    t.equal(env.upstream.requests.length, before, `${what}: upstream not called`);
  }
  return r;
}

t.test('GET-only reader with /v1/vaults, /v1/vaults/*, /v1/reports/**', async (t) => {
  const env = await setup(t, tenants, allKeys);
  await expectCase(t, env, reader, 'GET', '/v1/vaults', 200);
  await expectCase(t, env, reader, 'GET', '/v1/vaults/abc', 200);
  await expectCase(t, env, reader, 'GET', '/v1/vaults/abc/def', 403);
  await expectCase(t, env, reader, 'GET', '/v1/reports/a', 200);
  await expectCase(t, env, reader, 'GET', '/v1/reports/a/b/c', 200);
  await expectCase(t, env, reader, 'POST', '/v1/vaults', 403);
  await expectCase(t, env, reader, 'PUT', '/v1/vaults/abc', 403);
  await expectCase(t, env, reader, 'DELETE', '/v1/vaults/abc', 403);
  await expectCase(t, env, reader, 'GET', '/v1/other', 403);
  await expectCase(t, env, reader, 'GET', '/', 403);
  await expectCase(t, env, reader, 'GET', '/v1/vaultsx', 403);
  await expectCase(t, env, reader, 'GET', '/v1/reportsx/a', 403);
  await expectCase(t, env, reader, 'GET', '/v2/vaults', 403);
  await expectCase(t, env, reader, 'GET', '/V1/VAULTS', 403);
});

t.test('the query string does not take part in matching and is forwarded unchanged', async (t) => {
  const env = await setup(t, tenants, allKeys);
  await expectCase(t, env, reader, 'GET', '/v1/vaults?limit=10&after=/v1/other', 200);
  await expectCase(t, env, reader, 'GET', '/v1/other?path=/v1/vaults', 403);
});

t.test('a non-canonical path never slips past the rules', async (t) => {
  const env = await setup(t, tenants, allKeys);
  for (const path of ['/v1/vaults/abc/../../other', '/v1/vaults/abc%2Fdef', '/v1/vaults//abc', '/v1/reports/../other', '/v1/vaults/%2e%2e/other']) {
    const r = await request(env.proxy.url, { path, headers: [['Authorization', bearer(reader)]] });
    t.not(r.status, 200, `${path}: not forwarded as allowed`);
    t.ok(r.status === 400 || r.status === 403, `${path}: 400 or 403 (got ${r.status})`);
  }
  t.equal(env.upstream.requests.length, 0, 'upstream never called');
});

t.test('several rules: each grants its own methods and paths only', async (t) => {
  const env = await setup(t, tenants, allKeys);
  await expectCase(t, env, writer, 'GET', '/v1/vaults/v1', 200);
  await expectCase(t, env, writer, 'POST', '/v1/transfers', 200);
  await expectCase(t, env, writer, 'PUT', '/v1/transfers', 200);
  await expectCase(t, env, writer, 'POST', '/v1/vaults/v1/addresses', 200);
  await expectCase(t, env, writer, 'GET', '/v1/transfers', 403);
  await expectCase(t, env, writer, 'POST', '/v1/vaults/v1', 403);
  await expectCase(t, env, writer, 'PATCH', '/v1/transfers', 403);
  await expectCase(t, env, writer, 'GET', '/v1/vaults', 403);
});

t.test('methods: ["*"] allows every method on its paths only', async (t) => {
  const env = await setup(t, tenants, allKeys);
  for (const m of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) await expectCase(t, env, anyMethod, m, '/v1/wallets/w1/balance', 200);
  await expectCase(t, env, anyMethod, 'GET', '/v1/vaults', 403);
});

t.test('no permissions: every method and path', async (t) => {
  const env = await setup(t, tenants, allKeys);
  await expectCase(t, env, unrestricted, 'GET', '/v1/anything/at/all', 200);
  await expectCase(t, env, unrestricted, 'POST', '/v1/vaults', 200);
  await expectCase(t, env, unrestricted, 'DELETE', '/v1/vaults/abc/def', 200);
});

function stableHeaders(h: IncomingHttpHeaders): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(h)) if (k !== 'date' && k !== 'x-request-id') out[k] = v;
  return out;
}

t.test('a permission denial is the same 403 as an allowlist denial', async (t) => {
  const env = await setup(t, tenants, allKeys);
  const perm = await expectCase(t, env, reader, 'GET', '/v1/other', 403);
  const ip = await request(env.proxy.url, { path: '/v1/vaults', headers: [['Authorization', bearer(fenced)]] });
  assertForbidden(t, ip, fenced, 'allowlist denial');
  const permPost = await expectCase(t, env, reader, 'POST', '/v1/vaults', 403);
  const ipPost = await request(env.proxy.url, { method: 'POST', path: '/v1/vaults', headers: [['Authorization', bearer(fenced)], ['Content-Type', 'application/json']], body: '{"n":1}' });
  assertForbidden(t, ipPost, fenced, 'allowlist denial (POST)');
  const strip = (r: Reply): string => r.text.split(String(r.headers['x-request-id'])).join('<rid>');
  t.equal(strip(perm), strip(ip), 'GET: body identical apart from requestId');
  t.same(stableHeaders(perm.headers), stableHeaders(ip.headers), 'GET: same headers');
  t.equal(strip(permPost), strip(ipPost), 'POST: body identical apart from requestId');
  t.same(stableHeaders(permPost.headers), stableHeaders(ipPost.headers), 'POST: same headers');
  t.equal(env.upstream.requests.length, 0, 'upstream never called');
});

t.test('order: authentication, then allowlist, then permissions', async (t) => {
  const env = await setup(t, tenants, allKeys);
  // wrong secret on a path the rules would deny: 401, not 403
  const r1 = await request(env.proxy.url, { path: '/v1/other', headers: [['Authorization', `Bearer ${reader.keyId}:wrong`]] });
  t.equal(r1.status, 401, 'bad secret on a denied path: 401');
  t.equal(r1.json()['code'], 'UNAUTHORIZED');
  // a permitted path from an IP outside the tenant's list is still denied
  const r2 = await request(env.proxy.url, { path: '/v1/vaults', headers: [['Authorization', bearer(fencedReader)]] });
  assertForbidden(t, r2, fencedReader, 'permitted path, denied IP');
  t.equal(env.upstream.requests.length, 0, 'upstream never called');
});

t.test('Expect: 100-continue on a denied method/path: no 100 Continue, a 403', async (t) => {
  const env = await setup(t, tenants, allKeys);
  const text = await rawRequest(
    env.proxy.port,
    `POST /v1/vaults HTTP/1.1\r\nHost: 127.0.0.1:${env.proxy.port}\r\nAuthorization: ${bearer(reader)}\r\n` +
      'Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 7\r\n\r\n',
    1500,
  );
  t.match(text, /^HTTP\/1\.1 403 /, 'the first thing received is the 403');
  t.notMatch(text, /100 Continue/i, 'never a 100 Continue');
  t.equal(env.upstream.requests.length, 0, 'upstream not called');
});

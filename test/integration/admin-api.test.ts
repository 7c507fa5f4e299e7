// SPEC §11 admin API on the admin listener only: GET /admin/credentials (tenants, key ids, statuses,
// graceUntil; never a hash) and POST /admin/reload, behind the admin token (compared in constant time,
// from admin.tokenFile); 404 when no token file is configured; the proxy listener never serves /admin/*.
// (rev 2) Every admin error is the §10 body with X-Request-Id; a wrong method on a known path is 405
// with Allow, an unknown path 404; a refused reload is 422 RELOAD_REFUSED with its problems, every time.
import t, { type Test } from 'tap';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import * as nodeCrypto from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startUpstream, type RecordingUpstream } from '../helpers/recording-upstream.js';
import { startProxy, writeConfigDir, type TestProxy } from '../helpers/start-proxy.js';
import { loadConfig } from '../../src/config/load.js';
import { startApp } from '../../src/app.js';
import { createLoggers } from '../../src/telemetry/logger.js';
import { credentialsYaml, bearer, hashOf, type KeySpec } from '../helpers/credentials.js';
import { request, type Reply } from '../helpers/http-client.js';
import { CredentialsRegistry } from '../../src/credentials/registry.js';
import { parseCredentials } from '../../src/credentials/document-load.js';

const ADMIN_TOKEN = 'adm_5d1c0e7a9b2f4c6e8a0b1c2d3e4f5a6b';
const GRACE = '2031-01-01T00:00:00Z';
const A: KeySpec = { keyId: 'ck_test_adm_a', tenant: 'tnt_adm', secret: 'sk_test_adm_secret_a', label: 'payments' };
const R: KeySpec = { keyId: 'ck_test_adm_r', tenant: 'tnt_adm', secret: 'sk_test_adm_secret_r', status: 'rotated', graceUntil: GRACE };
const X: KeySpec = { keyId: 'ck_test_adm_x', tenant: 'tnt_other', secret: 'sk_test_adm_secret_x', status: 'revoked' };
const P: KeySpec = { keyId: 'ck_test_adm_p', tenant: 'tnt_other', secret: 'sk_test_adm_secret_p', status: 'provisioned' };
const TENANTS = [{ id: 'tnt_adm', name: 'Admin Corp', ipAllowList: ['127.0.0.1/32'] }, { id: 'tnt_other' }];
const KEYS = [A, R, X, P];
const DOC = credentialsYaml(TENANTS, KEYS);
/** the same, with A revoked */
const DOC_REVOKED = credentialsYaml(TENANTS, [{ ...A, status: 'revoked' }, R, X, P]);

let upstream: RecordingUpstream;
t.before(async () => {
  upstream = await startUpstream();
});
t.teardown(() => upstream.close());

function scratch(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'custody-proxy-admin-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function writeToken(t: Test, text = `${ADMIN_TOKEN}\n`): string {
  const file = path.join(scratch(t), 'admin-token');
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

async function open(t: Test, config: Record<string, unknown>, credentials = DOC): Promise<TestProxy> {
  const p = await startProxy({ upstreamUrl: upstream.url, credentialsYaml: credentials, config });
  t.teardown(() => p.close());
  return p;
}

const withToken = (token: string): Array<[string, string]> => [['Authorization', `Bearer ${token}`]];

interface View {
  loaded: boolean;
  tenants: Array<{ id: string; name: string | null }>;
  credentials: Array<{ keyId: string; tenant: string; status: string; graceUntil: string | null; label: string | null }>;
}

/** SPEC §11 rev 2: an admin error is the §10 body, its requestId also in X-Request-Id. */
function assertAdminError(t: Test, r: Reply, status: number, code: string, what: string): void {
  t.equal(r.status, status, `${what} → ${status}`);
  t.match(r.headers['content-type'], /^application\/json/, `${what}: JSON`);
  t.equal(r.headers['cache-control'], 'no-store', `${what}: no-store`);
  const body = r.json<{ code: string; message: string; requestId: string }>();
  t.equal(body.code, code, `${what}: code ${code}`);
  t.type(body.message, 'string', `${what}: a message`);
  t.match(body.requestId, /^req_[0-9a-f]{32}$/, `${what}: a requestId`);
  t.equal(r.headers['x-request-id'], body.requestId, `${what}: X-Request-Id equals requestId`);
}

/** Every place a hash could show up: the sha256: form and the bare hex digest of each secret. */
function assertNoHashes(t: Test, r: Reply): void {
  t.notMatch(r.text, 'sha256:', 'no "sha256:" anywhere');
  t.notMatch(r.text, /secretHash|digest/i, 'no hash field');
  for (const k of KEYS) {
    t.notMatch(r.text, hashOf(k.secret).slice('sha256:'.length), `no digest of ${k.keyId}`);
    t.notMatch(r.text, k.secret, `no secret of ${k.keyId}`);
  }
}

t.test('GET /admin/credentials: tenants, key ids, statuses, graceUntil, never a hash', async (t) => {
  const p = await open(t, { admin: { listen: '127.0.0.1:0', tokenFile: writeToken(t) } });
  const r = await request(p.adminUrl, { path: '/admin/credentials', headers: withToken(ADMIN_TOKEN) });
  t.equal(r.status, 200, 'GET with the admin token → 200');
  t.match(r.headers['content-type'], /^application\/json/);
  t.equal(r.headers['cache-control'], 'no-store');
  const view = r.json<View>();
  t.equal(view.loaded, true);
  t.same(view.tenants.map((x) => x.id).sort(), ['tnt_adm', 'tnt_other'], 'every tenant');
  t.equal(view.tenants.find((x) => x.id === 'tnt_adm')?.name, 'Admin Corp');
  const byId = new Map(view.credentials.map((c) => [c.keyId, c]));
  t.same([...byId.keys()].sort(), KEYS.map((k) => k.keyId).sort(), 'every key id');
  t.match(byId.get(A.keyId), { tenant: 'tnt_adm', status: 'active', graceUntil: null, label: 'payments' });
  t.match(byId.get(R.keyId), { tenant: 'tnt_adm', status: 'rotated' });
  t.equal(Date.parse(byId.get(R.keyId)?.graceUntil ?? ''), Date.parse(GRACE), 'graceUntil of the rotated key');
  t.match(byId.get(X.keyId), { tenant: 'tnt_other', status: 'revoked' });
  t.match(byId.get(P.keyId), { tenant: 'tnt_other', status: 'provisioned' });
  for (const c of view.credentials) t.same(Object.keys(c).filter((k) => /hash|secret/i.test(k)), [], `${c.keyId}: no hash or secret field`);
  assertNoHashes(t, r);
});

t.test('the admin token: missing, wrong, wrong scheme, padded or very long → 401; the trimmed file content → 200', async (t) => {
  const p = await open(t, { admin: { listen: '127.0.0.1:0', tokenFile: writeToken(t) } });
  const cases: Array<[string, Array<[string, string]>]> = [
    ['no Authorization', []],
    ['a wrong token', withToken('adm_wrong')],
    ['the token with one character changed', withToken(`${ADMIN_TOKEN.slice(0, -1)}c`)],
    ['a prefix of the token', withToken(ADMIN_TOKEN.slice(0, 10))],
    ['the token plus a suffix', withToken(`${ADMIN_TOKEN}x`)],
    ['a very long token', withToken('a'.repeat(4096))],
    ['Basic scheme', [['Authorization', `Basic ${ADMIN_TOKEN}`]]],
    ['no scheme', [['Authorization', ADMIN_TOKEN]]],
    ['an API key of the proxy', [['Authorization', bearer(A)]]],
    ['the token with an encoded newline', withToken(`${ADMIN_TOKEN}%0A`)],
  ];
  for (const [name, headers] of cases) {
    for (const [method, urlPath] of [
      ['GET', '/admin/credentials'],
      ['POST', '/admin/reload'],
    ] as const) {
      const r = await request(p.adminUrl, { method, path: urlPath, headers });
      assertAdminError(t, r, 401, 'UNAUTHORIZED', `${name}: ${method} ${urlPath}`);
      t.equal(r.headers['www-authenticate'], 'Bearer', 'WWW-Authenticate: Bearer');
      t.notMatch(r.text, A.keyId, 'no key id in the refusal');
    }
  }
  const lower = await request(p.adminUrl, { path: '/admin/credentials', headers: [['Authorization', `bearer ${ADMIN_TOKEN}`]] });
  t.equal(lower.status, 200, 'the scheme is case-insensitive; the file\'s trailing newline is not part of the token');
});

t.test('POST /admin/reload re-reads the file (a change nothing else could notice) and reports the result', async (t) => {
  // credentials.yaml is a symlink into a folder that is not watched; every version has the same
  // size and mtime, so neither the folder watch nor the stat poll sees the change: only the reload.
  const base = scratch(t);
  mkdirSync(path.join(base, 'watched'));
  mkdirSync(path.join(base, 'elsewhere'));
  const target = path.join(base, 'elsewhere', 'real.yaml');
  const link = path.join(base, 'watched', 'credentials.yaml');
  const size = Math.max(Buffer.byteLength(DOC), Buffer.byteLength(DOC_REVOKED)) + 8;
  const mtime = new Date(1_700_000_000_000);
  const write = (doc: string): void => {
    writeFileSync(target, `${doc}#${'x'.repeat(size - Buffer.byteLength(doc) - 2)}\n`);
    utimesSync(target, mtime, mtime);
  };
  write(DOC);
  symlinkSync(target, link);
  const p = await open(t, { admin: { listen: '127.0.0.1:0', tokenFile: writeToken(t) }, credentials: { file: link } });
  const statusA = async (): Promise<number> => (await request(p.url, { path: '/v1/x', headers: [['Authorization', bearer(A)]] })).status;
  t.equal(await statusA(), 200);

  write(DOC_REVOKED);
  const noticed = await new Promise<number>((resolve) => setTimeout(() => void statusA().then(resolve), 1400));
  t.equal(noticed, 200, 'after 1.4 s nothing has noticed the change on its own');

  const applied = await request(p.adminUrl, { method: 'POST', path: '/admin/reload', headers: withToken(ADMIN_TOKEN) });
  t.equal(applied.status, 200, 'POST /admin/reload → 200');
  t.same(applied.json(), { result: 'applied' });
  t.equal(await statusA(), 401, 'A is revoked as soon as the reload answered');
  const view = (await request(p.adminUrl, { path: '/admin/credentials', headers: withToken(ADMIN_TOKEN) })).json<View>();
  t.equal(view.credentials.find((c) => c.keyId === A.keyId)?.status, 'revoked', '/admin/credentials shows the new status');

  const unchanged = await request(p.adminUrl, { method: 'POST', path: '/admin/reload', headers: withToken(ADMIN_TOKEN) });
  t.equal(unchanged.status, 200);
  t.same(unchanged.json(), { result: 'unchanged' });

  // two problems: a malformed hash (never echoed: a near-miss hash is still a hash) and an unknown tenant
  const badHash = `sha256:${'ab'.repeat(31)}`;
  writeFileSync(target, DOC.replace(/sha256:[0-9a-f]{64}/, badHash).replace('tenant: tnt_other', 'tenant: tnt_gone'));
  for (const attempt of ['a refused document', 'the same refused document reloaded again']) {
    const rejected = await request(p.adminUrl, { method: 'POST', path: '/admin/reload', headers: withToken(ADMIN_TOKEN) });
    assertAdminError(t, rejected, 422, 'RELOAD_REFUSED', attempt);
    const body = rejected.json<{ result: string; problems: string[] }>();
    t.equal(body.result, 'rejected', `${attempt}: result rejected`);
    t.equal(body.problems.length, 2, `${attempt}: every problem, as path: message: ${JSON.stringify(body.problems)}`);
    t.match(body.problems.find((x) => x.startsWith('credentials[0].secretHash: ')), /must be/, `${attempt}: the hash problem`);
    t.match(body.problems.find((x) => /^credentials\[\d\]\.tenant: /.test(x)), 'tnt_gone', `${attempt}: the tenant problem`);
    t.notMatch(rejected.text, badHash.slice('sha256:'.length), `${attempt}: the hash is not echoed`);
  }
  t.equal(await statusA(), 401, 'the last good document stays');
  t.equal((await request(p.url, { path: '/v1/x', headers: [['Authorization', bearer(R)]] })).status, 200, 'R in grace still works');
  const metrics = (await request(p.adminUrl, { path: '/metrics' })).text;
  t.match(metrics, /^custody_proxy_credential_reloads_total\{result="rejected"\} [1-9]/m, 'the refused reload is counted');
});

t.test('a wrong method on a known path → 405 with Allow; an unknown path → 404; both in the §10 body', async (t) => {
  const p = await open(t, { admin: { listen: '127.0.0.1:0', tokenFile: writeToken(t) } });
  const h = withToken(ADMIN_TOKEN);
  for (const [method, urlPath, allow] of [
    ['POST', '/admin/credentials', 'GET'],
    ['DELETE', '/admin/credentials', 'GET'],
    ['GET', '/admin/reload', 'POST'],
    ['PUT', '/admin/idempotency/ack-loss', 'POST'],
    ['POST', '/healthz', 'GET, HEAD'],
    ['DELETE', '/metrics', 'GET, HEAD'],
  ] as const) {
    const r = await request(p.adminUrl, { method, path: urlPath, headers: h });
    assertAdminError(t, r, 405, 'METHOD_NOT_ALLOWED', `${method} ${urlPath}`);
    t.equal(r.headers['allow'], allow, `${method} ${urlPath}: Allow: ${allow}`);
    assertNoHashes(t, r);
    t.notMatch(r.text, A.keyId);
  }
  for (const [method, urlPath] of [
    ['GET', '/admin/nope'],
    ['POST', '/admin'],
    ['GET', '/nope'],
    ['POST', '/nope'],
  ] as const) {
    assertAdminError(t, await request(p.adminUrl, { method, path: urlPath, headers: h }), 404, 'NOT_FOUND', `${method} ${urlPath}`);
  }
  const unauthorized = await request(p.adminUrl, { method: 'GET', path: '/admin/reload' });
  assertAdminError(t, unauthorized, 401, 'UNAUTHORIZED', 'a wrong method without the token: 401 first, nothing about the path revealed');
});

t.test('no admin.tokenFile: /admin/* answers 404 (disabled), with or without a token', async (t) => {
  const p = await open(t, {});
  for (const headers of [[], withToken(ADMIN_TOKEN), withToken('')] as Array<Array<[string, string]>>) {
    const get = await request(p.adminUrl, { path: '/admin/credentials', headers });
    assertAdminError(t, get, 404, 'NOT_FOUND', 'GET /admin/credentials');
    t.notMatch(get.text, A.keyId, 'nothing listed');
    const post = await request(p.adminUrl, { method: 'POST', path: '/admin/reload', headers });
    t.equal(post.status, 404, 'POST /admin/reload → 404');
  }
  t.equal((await request(p.adminUrl, { path: '/healthz' })).status, 200, 'the rest of the admin listener works');
});

t.test('an empty or missing token file stops the start (never an admin API open to an empty token)', async (t) => {
  const attempt = async (tokenFile: string): Promise<unknown> => {
    const dir = writeConfigDir({ upstreamUrl: upstream.url, credentialsYaml: DOC, config: { admin: { listen: '127.0.0.1:0', tokenFile } } });
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const config = loadConfig(path.join(dir, 'custody-proxy.yaml'));
    const app = await startApp(config, { logger: createLoggers('silent').logger, processMetrics: false });
    await app.shutdown(); // only reached when the start wrongly succeeded
    return app;
  };
  await t.rejects(attempt(writeToken(t, '\n')), /empty/, 'an empty token file');
  await t.rejects(attempt(path.join(scratch(t), 'no-such-token')), /ENOENT/, 'a missing token file');
});

t.test('the proxy listener never serves /admin/*: 401 without an API key, forwarded like any path with one', async (t) => {
  const p = await open(t, { admin: { listen: '127.0.0.1:0', tokenFile: writeToken(t) } });
  const before = upstream.requests.length;
  for (const [method, urlPath] of [
    ['GET', '/admin/credentials'],
    ['POST', '/admin/reload'],
  ] as const) {
    const r = await request(p.url, { method, path: urlPath, headers: withToken(ADMIN_TOKEN) });
    t.equal(r.status, 401, `${method} ${urlPath} with the admin token on the proxy port → 401`);
    t.equal(r.json()['code'], 'UNAUTHORIZED');
  }
  t.equal(upstream.requests.length, before, 'nothing forwarded');
  const keyed = await request(p.url, { path: '/admin/credentials', headers: [['Authorization', bearer(A)]] });
  t.equal(keyed.status, 200);
  t.same(keyed.json(), { ok: true }, 'the upstream\'s answer, not the credentials view');
  t.equal(upstream.requests.at(-1)?.url, '/admin/credentials', 'forwarded to the upstream like any path');
  assertNoHashes(t, keyed);
});

t.test('the token check is constant-time: timingSafeEqual over equal-length digests, for every presented token', async (t) => {
  const calls: Array<[number, number]> = [];
  const mod = await t.mockImport<typeof import('../../src/admin/admin-routes.js')>('../../src/admin/admin-routes.js', {
    'node:crypto': {
      ...nodeCrypto,
      timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView): boolean => {
        calls.push([a.byteLength, b.byteLength]);
        return nodeCrypto.timingSafeEqual(a, b);
      },
    },
  });
  const registry = new CredentialsRegistry();
  const parsed = parseCredentials(DOC);
  if (parsed.ok) registry.offer(parsed.snapshot, 'test');
  const routes = mod.adminRoutes({ token: ADMIN_TOKEN, registry, reload: () => Promise.resolve({ result: 'unchanged', problems: [] }), ackLoss: () => Promise.resolve(false), logger: createLoggers('silent').logger });
  const server = http.createServer((req, res) => {
    if (!routes(req, res)) {
      res.writeHead(404);
      res.end();
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  for (const token of ['x', ADMIN_TOKEN.slice(0, -1), 'y'.repeat(1000), ADMIN_TOKEN]) {
    calls.length = 0;
    const r = await request(base, { path: '/admin/credentials', headers: withToken(token) });
    t.equal(r.status, token === ADMIN_TOKEN ? 200 : 401, `${token.length}-character token → ${r.status}`);
    t.equal(calls.length, 1, 'timingSafeEqual ran once');
    t.same(calls[0], [32, 32], 'over two 32-byte digests (length is not revealed either)');
  }
  calls.length = 0;
  t.equal((await request(base, { path: '/admin/credentials' })).status, 401);
  t.equal(calls.length, 1, 'even without a header the compare runs');
});

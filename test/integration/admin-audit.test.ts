// SPEC §11 admin listener, "Two `Authorization` lines → 401" and "Every admin request (path, outcome,
// peer) is logged": duplicate Authorization lines sent as raw bytes (whichever line holds the token) are
// refused with 401 and list nothing; each /admin/* request leaves one "admin request" line (method, path
// without query, status, outcome, peer; info for 2xx, warn for 4xx) and never the token; /healthz,
// /readyz and /metrics leave none.
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startUpstream, type RecordingUpstream } from '../helpers/recording-upstream.js';
import { startProxy, type TestProxy } from '../helpers/start-proxy.js';
import { credentialsYaml, type KeySpec } from '../helpers/credentials.js';
import { rawRequest, request } from '../helpers/http-client.js';
import { headerOf, parseResponses } from '../helpers/raw-response.js';

const ADMIN_TOKEN = 'adm_7f3e9a1c5b2d4e6f8a0c1b3d5e7f9a2c';
const WRONG_TOKEN = 'adm_wrong_0a1b2c3d4e5f60718293a4b5c6d7e8f9';
const A: KeySpec = { keyId: 'ck_test_audit_a', tenant: 'tnt_audit', secret: 'sk_test_audit_secret_a' };
const DOC = credentialsYaml([{ id: 'tnt_audit' }], [A]);

let upstream: RecordingUpstream;
t.before(async () => {
  upstream = await startUpstream();
});
t.teardown(() => upstream.close());

async function open(t: Test, withToken = true): Promise<TestProxy> {
  const dir = mkdtempSync(path.join(tmpdir(), 'custody-proxy-audit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tokenFile = path.join(dir, 'admin-token');
  writeFileSync(tokenFile, `${ADMIN_TOKEN}\n`, { mode: 0o600 });
  const admin = withToken ? { listen: '127.0.0.1:0', tokenFile } : { listen: '127.0.0.1:0' };
  const p = await startProxy({ upstreamUrl: upstream.url, credentialsYaml: DOC, config: { admin } });
  t.teardown(() => p.close());
  return p;
}

interface AdminLine {
  level: string;
  msg: string;
  method: string;
  path: string;
  status: number | null;
  outcome: string;
  peer: string | null;
  requestId: string;
}

const adminLines = (p: TestProxy): AdminLine[] =>
  p.logs.map((l) => JSON.parse(l) as AdminLine).filter((l) => l.msg === 'admin request');

/** the admin lines once there are at least `n` (the line is written when the response has closed) */
async function waitForLines(p: TestProxy, n: number): Promise<AdminLine[]> {
  for (let i = 0; i < 100 && adminLines(p).length < n; i += 1) await sleep(10);
  await sleep(30); // and a little longer, so a second line for the same request would show
  return adminLines(p);
}

/** A request as exact bytes on a fresh connection to the admin port. */
async function raw(p: TestProxy, method: string, target: string, authorization: readonly string[]): Promise<string> {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', ...authorization, 'Content-Length: 0', 'Connection: close'];
  return rawRequest(p.app.adminAddress.port, `${lines.join('\r\n')}\r\n\r\n`);
}

t.test('two Authorization lines → 401 whichever holds the admin token; nothing listed', async (t) => {
  const p = await open(t);
  const good = `Authorization: Bearer ${ADMIN_TOKEN}`;
  const single = parseResponses(await raw(p, 'GET', '/admin/credentials', [good]))[0];
  t.equal(single?.status, 200, 'control: the same raw request with one Authorization line → 200');
  t.match(single?.body.toString('utf8') ?? '', A.keyId, 'control: the credentials are listed');
  const cases: Array<[string, string[]]> = [
    ['the token first, a wrong token second', [good, `Authorization: Bearer ${WRONG_TOKEN}`]],
    ['the token first, an empty line second', [good, 'Authorization: ']],
    ['the token first, another scheme second', [good, 'authorization: Basic Zm9vOmJhcg==']],
    ['a wrong token first, the token second', [`Authorization: Bearer ${WRONG_TOKEN}`, good]],
    ['the token twice', [good, `AUTHORIZATION: Bearer ${ADMIN_TOKEN}`]],
  ];
  for (const [name, authorization] of cases) {
    for (const [method, target] of [
      ['GET', '/admin/credentials'],
      ['POST', '/admin/reload'],
    ] as const) {
      const responses = parseResponses(await raw(p, method, target, authorization));
      t.equal(responses.length, 1, `${name}: one response`);
      const r = responses[0];
      t.equal(r?.status, 401, `${name}: ${method} ${target} → 401`);
      t.same(r ? headerOf(r, 'www-authenticate') : [], ['Bearer'], 'WWW-Authenticate: Bearer');
      const body = r?.body.toString('utf8') ?? '';
      t.notMatch(body, A.keyId, 'no key id in the refusal');
      t.notMatch(body, 'tnt_audit', 'no tenant in the refusal');
      t.notMatch(body, /result/, 'no reload ran');
    }
  }
  const lines = await waitForLines(p, 1 + cases.length * 2);
  t.same(lines.slice(1).map((l) => [l.status, l.outcome]), cases.flatMap(() => [[401, 'unauthorized'], [401, 'unauthorized']]), 'each refusal is logged');
  t.notMatch(p.logText(), ADMIN_TOKEN, 'the admin token is in no log line');
  t.notMatch(p.logText(), WRONG_TOKEN, 'nor the wrong one');
});

t.test('GET /admin/credentials with the token: one "admin request" line, info, with path, status, outcome and peer', async (t) => {
  const p = await open(t);
  const r = await request(p.adminUrl, { path: '/admin/credentials?verbose=1', headers: [['Authorization', `Bearer ${ADMIN_TOKEN}`]] });
  t.equal(r.status, 200);
  const lines = await waitForLines(p, 1);
  t.equal(lines.length, 1, 'exactly one line for the request');
  t.match(lines[0], { level: 'info', method: 'GET', path: '/admin/credentials', status: 200, outcome: 'ok', peer: '127.0.0.1' });
  t.equal(lines[0]?.requestId, r.headers['x-request-id'], 'the line carries the X-Request-Id of the answer');
  t.notMatch(p.logText(), ADMIN_TOKEN, 'the admin token is in no log line');
  t.notMatch(p.logText(), /Bearer|authorization/i, 'no Authorization value or field');
  t.notMatch(p.logText(), 'verbose', 'the path is logged without its query');
});

t.test('refusals and misses are logged too (warn), and the probes are not', async (t) => {
  const p = await open(t);
  const cases: Array<[string, string, Array<[string, string]>, number, string]> = [
    ['GET', '/admin/credentials', [], 401, 'unauthorized'],
    ['GET', '/admin/credentials', [['Authorization', `Bearer ${WRONG_TOKEN}`]], 401, 'unauthorized'],
    ['POST', '/admin/reload', [['Authorization', `Bearer ${WRONG_TOKEN}`]], 401, 'unauthorized'],
    ['GET', '/admin/nope', [['Authorization', `Bearer ${ADMIN_TOKEN}`]], 404, 'not_found'],
    ['GET', '/admin/reload', [['Authorization', `Bearer ${ADMIN_TOKEN}`]], 405, 'method_not_allowed'],
  ];
  for (const [method, urlPath, headers, status] of cases) {
    t.equal((await request(p.adminUrl, { method, path: urlPath, headers })).status, status, `${method} ${urlPath} → ${status}`);
  }
  for (const probe of ['/healthz', '/readyz', '/metrics']) await request(p.adminUrl, { path: probe });
  const lines = await waitForLines(p, cases.length);
  t.same(
    lines.map((l) => [l.level, l.method, l.path, l.status, l.outcome, l.peer]),
    cases.map(([method, urlPath, , status, outcome]) => ['warn', method, urlPath, status, outcome, '127.0.0.1']),
    'one warn line per admin request, none for /healthz, /readyz or /metrics',
  );
  t.notMatch(p.logText(), WRONG_TOKEN, 'the presented token is in no log line');
  t.notMatch(p.logText(), ADMIN_TOKEN, 'nor the admin token');
});

t.test('POST /admin/reload is logged with its outcome; a disabled admin API is logged as disabled', async (t) => {
  const p = await open(t);
  const r = await request(p.adminUrl, { method: 'POST', path: '/admin/reload', headers: [['Authorization', `Bearer ${ADMIN_TOKEN}`]] });
  t.equal(r.status, 200);
  t.match((await waitForLines(p, 1))[0], { level: 'info', method: 'POST', path: '/admin/reload', status: 200, outcome: 'ok', peer: '127.0.0.1' });

  const off = await open(t, false);
  t.equal((await request(off.adminUrl, { path: '/admin/credentials', headers: [['Authorization', `Bearer ${ADMIN_TOKEN}`]] })).status, 404);
  t.match((await waitForLines(off, 1))[0], { level: 'warn', path: '/admin/credentials', status: 404, outcome: 'disabled', peer: '127.0.0.1' });
  t.notMatch(off.logText(), ADMIN_TOKEN, 'no token in the log');
});

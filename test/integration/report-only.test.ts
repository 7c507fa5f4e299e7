// SPEC §6 rev 2, report-only tenants over real sockets: an allowlist denial (tenant list, the key's own
// list) and a permission denial let the request through to the upstream (X-Tenant-Id stamped), each
// logged as one warn line marked reportOnly and counted in custody_proxy_report_only_denials_total{check},
// never in the enforced denial counters; the access line says reportOnly. Authentication is never
// report-only. A reload to reportOnly: false enforces at once. The client IP is chosen with
// X-Forwarded-For from a trusted 127.0.0.1.
import t, { type Test } from 'tap';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { proxyFixture } from '../helpers/proxy-fixture.js';
import { credentialsYaml, bearer, type KeySpec, type TenantSpec } from '../helpers/credentials.js';
import { request, type Reply } from '../helpers/http-client.js';
import { sampleValue, scrape } from '../helpers/metrics-text.js';
import { waitFor } from '../helpers/waits.js';

const key: KeySpec = {
  keyId: 'ck_test_rollout',
  tenant: 'tnt_rollout',
  secret: 'sk_test_rollout_secret_value',
  ipAllowList: ['203.0.113.0/25'],
  permissions: [{ methods: ['GET'], paths: ['/v1/vaults', '/v1/vaults/*'] }],
};
const tenant = (reportOnly: boolean): TenantSpec => ({ id: 'tnt_rollout', ipAllowList: ['203.0.113.0/24'], reportOnly });
const IN = '203.0.113.7';

const f = proxyFixture(t, {
  credentialsYaml: credentialsYaml([tenant(true)], [key]),
  config: { trustedProxies: ['127.0.0.1/32'] },
});

type Line = Record<string, unknown>;

/** Every log line of this request, once its access line is written (at the end of the response). */
async function linesOf(r: Reply): Promise<Line[]> {
  const requestId = r.headers['x-request-id'];
  const mine = (): Line[] => f.proxy.logs.map((l) => JSON.parse(l) as Line).filter((l) => l['requestId'] === requestId);
  await waitFor(() => mine().some((l) => l['msg'] === 'request'), 5000, `the access line of ${String(requestId)}`);
  return mine();
}

async function counters(): Promise<Record<string, number | undefined>> {
  const m = await scrape(f.proxy.adminUrl);
  return {
    reportAllowlist: sampleValue(m, 'custody_proxy_report_only_denials_total', '{check="allowlist"}'),
    reportPermission: sampleValue(m, 'custody_proxy_report_only_denials_total', '{check="permission"}'),
    enforcedAllowlist: ['ip_not_allowed', 'credential_ip_not_allowed', 'client_ip_unknown'].reduce(
      (sum, reason) => sum + (sampleValue(m, 'custody_proxy_allowlist_denials_total', `{reason="${reason}"}`) ?? Number.NaN),
      0,
    ),
    enforcedPermission: sampleValue(m, 'custody_proxy_permission_denials_total'),
  };
}

const send = (method: string, target: string, clientIp: string, auth = bearer(key)): Promise<Reply> =>
  request(f.proxy.url, { method, path: target, headers: [['Authorization', auth], ['X-Forwarded-For', clientIp]] });

/** 200 from the upstream, which received this request once with the tenant stamped. */
function assertReachedUpstream(t: Test, r: Reply, before: number, method: string): void {
  t.equal(r.status, 200, 'the request proceeds: 200');
  t.equal(f.upstream.requests.length, before + 1, 'the upstream received it');
  const got = f.upstream.requests[before];
  t.equal(got?.method, method, 'the method as sent');
  t.same(got ? f.upstream.headerLines(got, 'x-tenant-id') : [], ['tnt_rollout'], 'X-Tenant-Id stamped');
  t.same(got ? f.upstream.headerLines(got, 'authorization') : ['?'], [], 'no Authorization upstream');
}

/** The warn lines marked reportOnly, as {check, reason}, after checking what each names. */
function denialLines(t: Test, lines: Line[], clientIp: string): Array<{ check: unknown; reason: unknown }> {
  const marked = lines.filter((l) => l['msg'] === 'report-only denial');
  for (const l of marked) {
    t.equal(l['level'], 'warn', 'logged at warn');
    t.equal(l['reportOnly'], true, 'marked reportOnly');
    t.equal(l['tenant'], 'tnt_rollout', 'names the tenant');
    t.equal(l['keyId'], key.keyId, 'names the key id');
    t.equal(l['clientIp'], clientIp, 'names the client IP');
  }
  return marked.map((l) => ({ check: l['check'], reason: l['reason'] }));
}

function assertAccessLine(t: Test, lines: Line[], reportOnly: boolean): void {
  const access = lines.find((l) => l['msg'] === 'request');
  t.equal(access?.['outcome'], 'ok', 'access line: outcome ok');
  t.equal(access?.['reportOnly'], reportOnly ? true : undefined, `access line: reportOnly ${reportOnly ? 'true' : 'absent'}`);
}

t.test("outside the tenant's list: forwarded, logged and counted as report-only", async (t) => {
  const c0 = await counters();
  const before = f.upstream.requests.length;
  const r = await send('GET', '/v1/vaults', '192.0.2.1');
  assertReachedUpstream(t, r, before, 'GET');
  const lines = await linesOf(r);
  t.same(denialLines(t, lines, '192.0.2.1'), [{ check: 'allowlist', reason: 'ip_not_allowed' }], 'one denial line');
  assertAccessLine(t, lines, true);
  const c1 = await counters();
  t.equal(c1['reportAllowlist'], (c0['reportAllowlist'] ?? Number.NaN) + 1, 'report-only allowlist denial counted');
  t.equal(c1['enforcedAllowlist'], c0['enforcedAllowlist'], 'not an enforced allowlist denial');
});

t.test("inside the tenant's list, outside the key's: report-only too", async (t) => {
  const before = f.upstream.requests.length;
  const r = await send('GET', '/v1/vaults', '203.0.113.200');
  assertReachedUpstream(t, r, before, 'GET');
  t.same(denialLines(t, await linesOf(r), '203.0.113.200'), [{ check: 'allowlist', reason: 'credential_ip_not_allowed' }]);
});

t.test('outside the permissions: forwarded, logged and counted as a report-only permission denial', async (t) => {
  const c0 = await counters();
  const before = f.upstream.requests.length;
  const r = await send('DELETE', '/v1/vaults/v_1?force=1', IN);
  assertReachedUpstream(t, r, before, 'DELETE');
  const lines = await linesOf(r);
  t.same(denialLines(t, lines, IN), [{ check: 'permission', reason: 'permission' }], 'one denial line');
  const line = lines.find((l) => l['msg'] === 'report-only denial');
  t.same([line?.['method'], line?.['path']], ['DELETE', '/v1/vaults/v_1'], 'names the method and the path without its query');
  assertAccessLine(t, lines, true);
  const c1 = await counters();
  t.equal(c1['reportPermission'], (c0['reportPermission'] ?? Number.NaN) + 1, 'report-only permission denial counted');
  t.equal(c1['enforcedPermission'], c0['enforcedPermission'], 'not an enforced permission denial');
});

t.test('both checks would refuse: two lines, both counted, one upstream request', async (t) => {
  const c0 = await counters();
  const before = f.upstream.requests.length;
  const r = await send('DELETE', '/v1/vaults/v_1', '192.0.2.1');
  assertReachedUpstream(t, r, before, 'DELETE');
  const lines = await linesOf(r);
  t.same(denialLines(t, lines, '192.0.2.1'), [{ check: 'allowlist', reason: 'ip_not_allowed' }, { check: 'permission', reason: 'permission' }]);
  const c1 = await counters();
  t.equal(c1['reportAllowlist'], (c0['reportAllowlist'] ?? Number.NaN) + 1);
  t.equal(c1['reportPermission'], (c0['reportPermission'] ?? Number.NaN) + 1);
});

t.test('an admitted request: no denial line, no reportOnly in the access line', async (t) => {
  const before = f.upstream.requests.length;
  const r = await send('GET', '/v1/vaults/v_1', IN);
  assertReachedUpstream(t, r, before, 'GET');
  const lines = await linesOf(r);
  t.same(denialLines(t, lines, IN), [], 'no denial line');
  assertAccessLine(t, lines, false);
});

t.test('authentication is never report-only: a bad secret from a denied IP is 401 and goes nowhere', async (t) => {
  const c0 = await counters();
  const before = f.upstream.requests.length;
  const r = await send('DELETE', '/v1/vaults/v_1', '192.0.2.1', `Bearer ${key.keyId}:not_the_secret`);
  t.equal(r.status, 401, '401');
  t.equal(r.json()['code'], 'UNAUTHORIZED');
  t.equal(f.upstream.requests.length, before, 'the upstream received nothing');
  const lines = await linesOf(r);
  t.same(denialLines(t, lines, '192.0.2.1'), [], 'no report-only line');
  t.equal(lines.find((l) => l['msg'] === 'request')?.['reportOnly'], undefined, 'access line not marked');
  t.same(await counters(), c0, 'no report-only or enforced denial counted');
});

t.test('the logs never hold the secret or an Authorization value', async (t) => {
  t.notOk(f.proxy.logText().includes(key.secret), 'no secret');
  t.notOk(f.proxy.logText().includes('not_the_secret'), 'no wrong secret either');
  t.notMatch(f.proxy.logText(), /Bearer /i, 'no Authorization value');
});

t.test('a reload to reportOnly: false enforces: 403, nothing upstream, an enforced denial', async (t) => {
  writeFileSync(path.join(f.proxy.dir, 'credentials.yaml'), credentialsYaml([tenant(false)], [key]));
  t.equal(await f.proxy.app.reloadCredentials(), 'applied', 'the new document is in force');
  const c0 = await counters();
  const before = f.upstream.requests.length;
  for (const [method, target, clientIp] of [['GET', '/v1/vaults', '192.0.2.1'], ['GET', '/v1/vaults', '203.0.113.200'], ['DELETE', '/v1/vaults/v_1', IN]] as const) {
    const r = await send(method, target, clientIp);
    t.equal(r.status, 403, `${method} ${target} from ${clientIp}: 403`);
    t.same(denialLines(t, await linesOf(r), clientIp), [], 'no report-only line');
  }
  t.equal(f.upstream.requests.length, before, 'the upstream received nothing');
  const c1 = await counters();
  t.equal(c1['enforcedAllowlist'], (c0['enforcedAllowlist'] ?? Number.NaN) + 2, 'two enforced allowlist denials');
  t.equal(c1['enforcedPermission'], (c0['enforcedPermission'] ?? Number.NaN) + 1, 'one enforced permission denial');
  t.same([c1['reportAllowlist'], c1['reportPermission']], [c0['reportAllowlist'], c0['reportPermission']], 'no report-only denial counted');
  const ok = await send('GET', '/v1/vaults', IN);
  assertReachedUpstream(t, ok, before, 'GET');
});

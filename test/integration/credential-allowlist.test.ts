// SPEC §6 rev 2, a credential's own ipAllowList over real sockets: it narrows its tenant's list (both
// must admit the client IP), other keys of the tenant are not narrowed, a key's list under an open
// tenant applies alone, and an unknown client IP is refused. The client IP is chosen with
// X-Forwarded-For from a trusted 127.0.0.1. Each refusal is checked at the upstream (nothing arrived)
// and in custody_proxy_allowlist_denials_total{reason}.
import t, { type Test } from 'tap';
import { proxyFixture } from '../helpers/proxy-fixture.js';
import { credentialsYaml, bearer, type KeySpec } from '../helpers/credentials.js';
import { request, type Reply } from '../helpers/http-client.js';
import { sampleValue, scrape } from '../helpers/metrics-text.js';

const narrowed: KeySpec = { keyId: 'ck_test_narrow', tenant: 'tnt_listed', secret: 'sk_test_narrow_secret', ipAllowList: ['203.0.113.7/32'] };
const sibling: KeySpec = { keyId: 'ck_test_sibling', tenant: 'tnt_listed', secret: 'sk_test_sibling_secret' };
const ownOnly: KeySpec = { keyId: 'ck_test_own', tenant: 'tnt_open', secret: 'sk_test_own_secret', ipAllowList: ['198.51.100.0/24', '2001:db8::/32'] };

const f = proxyFixture(t, {
  credentialsYaml: credentialsYaml([{ id: 'tnt_listed', ipAllowList: ['203.0.113.0/24'] }, { id: 'tnt_open' }], [narrowed, sibling, ownOnly]),
  config: { trustedProxies: ['127.0.0.1/32'] },
});

/** GET /v1/vaults as `k` from client IP `clientIp` (X-Forwarded-For from the trusted peer). */
const getAs = (k: KeySpec, clientIp: string): Promise<Reply> =>
  request(f.proxy.url, { path: '/v1/vaults', headers: [['Authorization', bearer(k)], ['X-Forwarded-For', clientIp]] });

async function denials(reason: string): Promise<number | undefined> {
  return sampleValue(await scrape(f.proxy.adminUrl), 'custody_proxy_allowlist_denials_total', `{reason="${reason}"}`);
}

/** Sends the request and checks: 200 with the tenant stamped at the upstream, or 403 and nothing there. */
async function expect(t: Test, k: KeySpec, clientIp: string, status: 200 | 403): Promise<void> {
  const before = f.upstream.requests.length;
  const r = await getAs(k, clientIp);
  const what = `${k.keyId} from ${clientIp}`;
  t.equal(r.status, status, `${what}: ${status}`);
  if (status === 403) {
    t.equal(r.json()['code'], 'FORBIDDEN', `${what}: FORBIDDEN`);
    t.equal(f.upstream.requests.length, before, `${what}: the upstream received nothing`);
    return;
  }
  t.equal(f.upstream.requests.length, before + 1, `${what}: the upstream received it once`);
  const got = f.upstream.requests[before];
  t.same(got ? f.upstream.headerLines(got, 'x-tenant-id') : [], [k.tenant], `${what}: X-Tenant-Id stamped`);
  t.same(got ? f.upstream.headerLines(got, 'x-credential-id') : [], [k.keyId], `${what}: X-Credential-Id`);
}

t.test("the tenant's list admits, the key's does not: 403, counted as credential_ip_not_allowed", async (t) => {
  const before = (await denials('credential_ip_not_allowed')) ?? Number.NaN;
  await expect(t, narrowed, '203.0.113.8', 403);
  t.equal(await denials('credential_ip_not_allowed'), before + 1, 'counted once, by its own reason');
});

t.test('both lists admit: forwarded', async (t) => {
  await expect(t, narrowed, '203.0.113.7', 200);
});

t.test("outside the tenant's list: refused there first (ip_not_allowed)", async (t) => {
  const before = (await denials('ip_not_allowed')) ?? Number.NaN;
  await expect(t, narrowed, '192.0.2.1', 403);
  t.equal(await denials('ip_not_allowed'), before + 1);
});

t.test("another key of the tenant keeps the tenant's whole list", async (t) => {
  await expect(t, sibling, '203.0.113.8', 200);
  await expect(t, sibling, '192.0.2.1', 403);
});

t.test("a key's list under a tenant without one applies alone, both families", async (t) => {
  await expect(t, ownOnly, '198.51.100.9', 200);
  await expect(t, ownOnly, '2001:db8::5', 200);
  await expect(t, ownOnly, '203.0.113.7', 403);
  await expect(t, ownOnly, '2001:db9::5', 403);
});

t.test('an unknown client IP is refused by a key with a list', async (t) => {
  const before = (await denials('client_ip_unknown')) ?? Number.NaN;
  await expect(t, ownOnly, 'garbage', 403);
  t.equal(await denials('client_ip_unknown'), before + 1);
});

// resolve-client runs before every check (SPEC §6, §12 rev 2): behind a trusted ingress, the access line
// of a request refused with 401 or 403 names the real client from X-Forwarded-For, as a 200 does, and
// not the ingress's address.
import t from 'tap';
import { proxyFixture } from '../helpers/proxy-fixture.js';
import { credentialsYaml, bearer } from '../helpers/credentials.js';
import { request } from '../helpers/http-client.js';

const key = { keyId: 'ck_test_client', tenant: 'tnt_client', secret: 'sk_test_client_secret' };
const f = proxyFixture(t, {
  credentialsYaml: credentialsYaml([{ id: key.tenant, ipAllowList: ['203.0.113.0/24'] }], [key]),
  config: { trustedProxies: ['127.0.0.1/32'] },
});

async function accessLineOf(headers: Array<[string, string]>): Promise<Record<string, unknown> | undefined> {
  const r = await request(f.proxy.url, { path: '/v1/vaults', headers });
  const id = r.headers['x-request-id'];
  const lines = f.proxy.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
  return lines.find((l) => l['msg'] === 'request' && l['requestId'] === id);
}

for (const [name, headers, status] of [
  ['200', [['Authorization', bearer(key)], ['X-Forwarded-For', '203.0.113.9']], 200],
  ['401 (no credentials)', [['X-Forwarded-For', '203.0.113.9']], 401],
  ['401 (wrong secret)', [['Authorization', 'Bearer ck_test_client:wrong'], ['X-Forwarded-For', '203.0.113.9']], 401],
  ['403 (outside the allowlist)', [['Authorization', bearer(key)], ['X-Forwarded-For', '198.51.100.4']], 403],
] as const) {
  t.test(`behind a trusted proxy, a ${name} logs the client from X-Forwarded-For`, async (t) => {
    const line = await accessLineOf(headers.map(([k, v]) => [k, v]));
    t.equal(line?.['status'], status);
    t.equal(line?.['clientIp'], headers.find(([k]) => k === 'X-Forwarded-For')?.[1], 'the resolved client, not 127.0.0.1');
  });
}

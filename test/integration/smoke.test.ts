import t from 'tap';
import { startUpstream } from '../helpers/recording-upstream.js';
import { startProxy } from '../helpers/start-proxy.js';
import { credentialsYaml, bearer } from '../helpers/credentials.js';
import { request } from '../helpers/http-client.js';

const key = { keyId: 'ck_test_a', tenant: 'tnt_a', secret: 'sk_test_secret_a' };

t.test('an authenticated request reaches the upstream stamped with its tenant', async (t) => {
  const upstream = await startUpstream();
  const proxy = await startProxy({ upstreamUrl: upstream.url, credentialsYaml: credentialsYaml([{ id: 'tnt_a' }], [key]) });
  t.teardown(async () => {
    await proxy.close();
    await upstream.close();
  });
  const r = await request(proxy.url, { path: '/v1/vaults?x=1', headers: [['Authorization', bearer(key)], ['X-Tenant-Id', 'tnt_evil']] });
  t.equal(r.status, 200);
  t.equal(upstream.requests.length, 1);
  const got = upstream.requests[0]!;
  t.equal(got.url, '/v1/vaults?x=1');
  t.same(upstream.headerLines(got, 'x-tenant-id'), ['tnt_a']);
  t.same(upstream.headerLines(got, 'authorization'), []);
  t.match(r.headers['x-request-id'], /^req_/);
  const denied = await request(proxy.url, { path: '/v1/vaults' });
  t.equal(denied.status, 401);
  t.equal(upstream.requests.length, 1);
  t.notMatch(proxy.logText(), key.secret);
});

// SPEC §11 rev 2, POST /admin/reload with a control endpoint (credentials.url) on 127.0.0.1: a document
// the endpoint serves but the proxy refuses → 422 RELOAD_REFUSED with its problems; an endpoint that
// answers no document (500) → 502 RELOAD_FAILED naming why; a good one → 200. Both errors in the §10
// body, and the last good document stays in force throughout.
import t from 'tap';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startUpstream } from '../helpers/recording-upstream.js';
import { startProxy } from '../helpers/start-proxy.js';
import { bearer, credentialsYaml, type KeySpec } from '../helpers/credentials.js';
import { request, type Reply } from '../helpers/http-client.js';

const ADMIN_TOKEN = 'adm_reload_3c9e1f7a5b2d4e6f';
const A: KeySpec = { keyId: 'ck_test_rl_a', tenant: 'tnt_rl', secret: 'sk_test_rl_secret_a' };
const GOOD = credentialsYaml([{ id: 'tnt_rl' }], [A]);
const INVALID = credentialsYaml([{ id: 'tnt_rl', ipAllowList: ['300.1.1.1'] }], [A]);

t.test('reload from a control endpoint: 200 applied, 422 RELOAD_REFUSED with problems, 502 RELOAD_FAILED', async (t) => {
  const served = { status: 200, body: GOOD };
  const control = http.createServer((_req, res) => {
    res.writeHead(served.status, { 'content-type': 'application/yaml' });
    res.end(served.body);
  });
  control.listen(0, '127.0.0.1');
  await once(control, 'listening');
  t.teardown(() => new Promise<void>((resolve) => control.close(() => resolve())));
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const dir = mkdtempSync(path.join(tmpdir(), 'custody-proxy-reload-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'admin-token'), `${ADMIN_TOKEN}\n`);
  const url = `http://127.0.0.1:${(control.address() as AddressInfo).port}/credentials`;
  const p = await startProxy({
    upstreamUrl: upstream.url,
    credentialsYaml: '',
    config: { admin: { listen: '127.0.0.1:0', tokenFile: path.join(dir, 'admin-token') }, credentials: { url, pollInterval: '1h' } },
  });
  t.teardown(() => p.close());
  const reload = (): Promise<Reply> => request(p.adminUrl, { method: 'POST', path: '/admin/reload', headers: [['Authorization', `Bearer ${ADMIN_TOKEN}`]] });
  const statusA = async (): Promise<number> => (await request(p.url, { path: '/v1/x', headers: [['Authorization', bearer(A)]] })).status;
  t.equal(await statusA(), 200, 'the first document is in force');

  served.body = INVALID;
  const refused = await reload();
  t.equal(refused.status, 422, refused.text);
  t.match(refused.json(), { code: 'RELOAD_REFUSED', result: 'rejected', problems: [/^tenants\[0\]\.ipAllowList\[0\]: .*300\.1\.1\.1/] });
  t.equal(refused.headers['x-request-id'], refused.json()['requestId']);

  served.status = 500;
  const failed = await reload();
  t.equal(failed.status, 502, failed.text);
  t.match(failed.json(), { code: 'RELOAD_FAILED', result: 'error', problems: ['credentials.url: status 500'] });
  t.equal(failed.headers['x-request-id'], failed.json()['requestId']);
  t.equal(await statusA(), 200, 'the last good document stays');

  served.status = 200;
  served.body = GOOD.replace('status: active', 'status: revoked');
  const applied = await reload();
  t.equal(applied.status, 200);
  t.same(applied.json(), { result: 'applied' });
  t.equal(await statusA(), 401, 'the new document is in force');
});

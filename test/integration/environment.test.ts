// SPEC §3/§5 rev 2 key environments over real sockets: a `live` proxy answers a ck_test_ key (even
// with its right secret) with the one §5 401, indistinguishable from an unknown key, counted as
// auth_failures_total{reason="environment"} (0 from start) and logged with that reason; a `test` proxy
// does the same to ck_live_ keys; `any` accepts both. The upstream receives nothing for a refusal. A
// document holding keys of the other environment loads, with one warning line per load naming them.
import t, { type Test } from 'tap';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { IncomingHttpHeaders } from 'node:http';
import { startUpstream, type RecordingUpstream } from '../helpers/recording-upstream.js';
import { startProxy, type TestProxy } from '../helpers/start-proxy.js';
import { credentialsYaml, bearer, type KeySpec } from '../helpers/credentials.js';
import { request, type Reply } from '../helpers/http-client.js';
import { sampleValue, scrape } from '../helpers/metrics-text.js';
import { waitFor } from '../helpers/waits.js';

interface Env {
  readonly proxy: TestProxy;
  readonly upstream: RecordingUpstream;
}

const live: KeySpec = { keyId: 'ck_live_env1', tenant: 'tnt_e', secret: 'sk_live_env1_secret' };
const test: KeySpec = { keyId: 'ck_test_env1', tenant: 'tnt_e', secret: 'sk_test_env1_secret' };
const ENV_REASON = '{reason="environment"}';
const WARNING = /another environment/;

async function setup(t: Test, environment: string | undefined, keys: KeySpec[] = [live, test]): Promise<Env> {
  const upstream = await startUpstream();
  const config = environment === undefined ? {} : { environment };
  const proxy = await startProxy({ upstreamUrl: upstream.url, credentialsYaml: credentialsYaml([{ id: 'tnt_e' }], keys), config });
  t.teardown(async () => {
    await proxy.close();
    await upstream.close();
  });
  return { proxy, upstream };
}

const get = (proxy: TestProxy, k: Pick<KeySpec, 'keyId' | 'secret'>): Promise<Reply> => request(proxy.url, { path: '/v1/vaults', headers: [['Authorization', bearer(k)]] });

type Line = Record<string, unknown>;
const lines = (proxy: TestProxy): Line[] => proxy.logs.map((l) => JSON.parse(l) as Line);
const warnings = (proxy: TestProxy): Line[] => lines(proxy).filter((l) => l['level'] === 'warn' && WARNING.test(String(l['msg'])));

async function accessLine(proxy: TestProxy, r: Reply): Promise<Line> {
  const find = (): Line | undefined => lines(proxy).find((l) => l['msg'] === 'request' && l['requestId'] === r.headers['x-request-id']);
  await waitFor(() => find() !== undefined, 2000, 'the access line');
  return find() ?? {};
}

/** What a client can see of a 401, less the per-response request id and date. */
function visible(r: Reply): { status: number; headers: IncomingHttpHeaders; body: string } {
  const rid = String(r.headers['x-request-id']);
  const { date: _d, 'x-request-id': _r, ...headers } = r.headers;
  return { status: r.status, headers, body: r.text.split(rid).join('<rid>') };
}

t.test('live: a ck_test_ key with its right secret gets the one 401, counted and logged as environment', async (t) => {
  const { proxy, upstream } = await setup(t, 'live');
  t.equal(sampleValue(await scrape(proxy.adminUrl), 'custody_proxy_auth_failures_total', ENV_REASON), 0, 'exported at 0 from start');
  const refused = await get(proxy, test);
  t.equal(refused.status, 401);
  t.equal(refused.headers['www-authenticate'], 'Bearer');
  t.match(refused.json(), { code: 'UNAUTHORIZED', message: 'authentication required' });
  t.same(visible(refused), visible(await get(proxy, { keyId: 'ck_live_nosuch', secret: 'x' })), 'the client sees the same as for an unknown key');
  t.same(visible(refused), visible(await get(proxy, { keyId: 'ck_test_nosuch', secret: 'x' })), 'or an unknown key of the other environment');
  t.equal(upstream.requests.length, 0, 'the upstream received nothing');
  t.match(await accessLine(proxy, refused), { status: 401, outcome: 'UNAUTHORIZED', reason: 'environment', keyId: test.keyId, tenant: 'tnt_e' }, 'logged: reason and the key id used in the wrong place');
  const m = await scrape(proxy.adminUrl);
  t.equal(sampleValue(m, 'custody_proxy_auth_failures_total', ENV_REASON), 2, 'both ck_test_ ids counted as environment');
  t.equal(sampleValue(m, 'custody_proxy_auth_failures_total', '{reason="unknown_key"}'), 1, 'the unknown live id as unknown_key');
  t.equal(sampleValue(m, 'custody_proxy_auth_failures_total', '{reason="bad_secret"}'), 0);
  const ok = await get(proxy, live);
  t.equal(ok.status, 200, 'the live key passes');
  t.equal(upstream.requests.length, 1);
  t.equal(upstream.requests[0]?.headers['x-credential-id'], live.keyId);
});

t.test('test: a ck_live_ key gets 401 environment; the ck_test_ key passes', async (t) => {
  const { proxy, upstream } = await setup(t, 'test');
  const refused = await get(proxy, live);
  t.equal(refused.status, 401);
  t.equal(refused.headers['www-authenticate'], 'Bearer');
  t.equal(upstream.requests.length, 0, 'the upstream received nothing');
  t.equal((await accessLine(proxy, refused))['reason'], 'environment');
  t.equal(sampleValue(await scrape(proxy.adminUrl), 'custody_proxy_auth_failures_total', ENV_REASON), 1);
  t.equal((await get(proxy, test)).status, 200);
  t.equal(upstream.requests[0]?.headers['x-credential-id'], test.keyId);
});

t.test('any (the default, and set): both environments pass, no warning', async (t) => {
  for (const environment of [undefined, 'any']) {
    const { proxy, upstream } = await setup(t, environment);
    t.equal((await get(proxy, live)).status, 200, `${String(environment)}: live key`);
    t.equal((await get(proxy, test)).status, 200, `${String(environment)}: test key`);
    t.equal(upstream.requests.length, 2);
    t.same(warnings(proxy), [], `${String(environment)}: the mixed document loads without a warning`);
  }
});

t.test('a mixed document loads with one warning per load naming the keys of the other environment', async (t) => {
  const { proxy } = await setup(t, 'live');
  t.equal(warnings(proxy).length, 1, 'at start: one warning');
  t.match(warnings(proxy)[0], { environment: 'live', count: 1, keyIds: [test.keyId] });
  t.equal((await get(proxy, live)).status, 200, 'the document is in force');
  const second: KeySpec = { keyId: 'ck_test_env2', tenant: 'tnt_e', secret: 'sk_test_env2_secret' };
  writeFileSync(path.join(proxy.dir, 'credentials.yaml'), credentialsYaml([{ id: 'tnt_e' }], [live, test, second]));
  await proxy.app.reloadCredentials();
  await waitFor(() => warnings(proxy).length >= 2, 2000, 'the reload warning');
  t.match(warnings(proxy)[1], { count: 2, keyIds: [test.keyId, second.keyId] }, 'the reload warns again, with both');
  t.notMatch(proxy.logText(), /sk_test_env|sha256:/, 'never a secret or a hash in the log');
  writeFileSync(path.join(proxy.dir, 'credentials.yaml'), credentialsYaml([{ id: 'tnt_e' }], [live]));
  await proxy.app.reloadCredentials();
  t.equal((await get(proxy, live)).status, 200);
  t.equal(warnings(proxy).length, 2, 'a document of the proxy’s own environment: no warning');
});

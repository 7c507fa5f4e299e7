// SPEC §5 rev 2 browser requests over real sockets: with `browserRequests: refuse` (the default) a
// request carrying Origin or Sec-Fetch-Mode gets the §10 403 FORBIDDEN before authentication (no key,
// a wrong key and a good key alike), with no Access-Control-* header, a CORS preflight included; it is
// counted in custody_proxy_browser_refusals_total (0 from start) and logged with reason
// browser_request; the upstream receives nothing. With `allow` the same requests are authenticated
// and forwarded as usual.
import t, { type Test } from 'tap';
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

const key: KeySpec = { keyId: 'ck_live_browser', tenant: 'tnt_b', secret: 'sk_live_browser_secret' };
const AUTH: [string, string] = ['Authorization', bearer(key)];

async function setup(t: Test, config: Record<string, unknown> = {}): Promise<Env> {
  const upstream = await startUpstream();
  const proxy = await startProxy({ upstreamUrl: upstream.url, credentialsYaml: credentialsYaml([{ id: 'tnt_b' }], [key]), config });
  t.teardown(async () => {
    await proxy.close();
    await upstream.close();
  });
  return { proxy, upstream };
}

/** The §10 403, and not a trace of CORS: a browser's script must not be able to read it. */
function assertRefused(t: Test, r: Reply, what: string): void {
  t.equal(r.status, 403, `${what}: 403`);
  const body = r.json();
  t.equal(body['code'], 'FORBIDDEN', `${what}: code FORBIDDEN`);
  t.equal(body['message'], 'access denied', `${what}: the one 403 message`);
  t.equal(body['requestId'], r.headers['x-request-id'], `${what}: requestId`);
  t.equal(r.headers['cache-control'], 'no-store', `${what}: no-store`);
  t.equal(r.headers['www-authenticate'], undefined, `${what}: not a 401`);
  t.same(Object.keys(r.headers).filter((h) => h.startsWith('access-control-')), [], `${what}: no Access-Control-* header`);
  t.equal(r.headers['vary'], undefined, `${what}: no Vary: Origin either`);
}

/** The access line of one response (written when the response closes). */
async function accessLine(proxy: TestProxy, r: Reply): Promise<Record<string, unknown>> {
  const id = r.headers['x-request-id'];
  const find = (): Record<string, unknown> | undefined =>
    proxy.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['msg'] === 'request' && l['requestId'] === id);
  await waitFor(() => find() !== undefined, 2000, `access line of ${String(id)}`);
  return find() ?? {};
}

t.test('refuse (the default): Origin gets 403 before authentication, counted and logged', async (t) => {
  const { proxy, upstream } = await setup(t);
  const fresh = await scrape(proxy.adminUrl);
  t.equal(sampleValue(fresh, 'custody_proxy_browser_refusals_total'), 0, 'exported at 0 from start');
  const origin: [string, string] = ['Origin', 'https://wallet.example'];
  const cases: Array<[string, Array<[string, string]>]> = [
    ['a good key', [AUTH, origin]],
    ['no key', [origin]],
    ['a wrong secret', [['Authorization', 'Bearer ck_live_browser:wrong'], origin]],
  ];
  for (const [what, headers] of cases) assertRefused(t, await request(proxy.url, { path: '/v1/vaults', headers }), what);
  const line = await accessLine(proxy, await request(proxy.url, { path: '/v1/vaults', headers: [AUTH, origin] }));
  t.match(line, { status: 403, outcome: 'FORBIDDEN', reason: 'browser_request', method: 'GET', path: '/v1/vaults' }, 'logged with its reason');
  t.equal(line['tenant'], undefined, 'refused before the key was looked at');
  t.equal(upstream.requests.length, 0, 'the upstream received nothing');
  const m = await scrape(proxy.adminUrl);
  t.equal(sampleValue(m, 'custody_proxy_browser_refusals_total'), 4, 'each refusal counted');
  t.equal(sampleValue(m, 'custody_proxy_auth_failures_total', '{reason="missing"}'), 0, 'before authentication: no auth failure');
  t.equal(sampleValue(m, 'custody_proxy_auth_failures_total', '{reason="bad_secret"}'), 0);
  t.equal(sampleValue(m, 'custody_proxy_allowlist_denials_total', '{reason="ip_not_allowed"}'), 0, 'not an allowlist denial');
  // control: the same request without Origin is forwarded
  t.equal((await request(proxy.url, { path: '/v1/vaults', headers: [AUTH] })).status, 200);
  t.equal(upstream.requests.length, 1);
});

t.test('refuse: a CORS preflight gets the same 403, never an Access-Control-Allow-*', async (t) => {
  const { proxy, upstream } = await setup(t, { browserRequests: 'refuse' });
  const preflight: Array<[string, string]> = [
    ['Origin', 'https://app.example'],
    ['Access-Control-Request-Method', 'POST'],
    ['Access-Control-Request-Headers', 'authorization, idempotency-key'],
  ];
  assertRefused(t, await request(proxy.url, { method: 'OPTIONS', path: '/v1/transfers', headers: preflight }), 'preflight');
  assertRefused(t, await request(proxy.url, { method: 'POST', path: '/v1/transfers', headers: [AUTH, ['Origin', 'https://app.example'], ['Content-Type', 'application/json']], body: '{"amount":1}' }), 'the POST after it');
  t.equal(upstream.requests.length, 0, 'the upstream received nothing');
});

t.test('refuse: Sec-Fetch-Mode cors, navigate, no-cors get 403; same-origin passes (SPEC lists the three)', async (t) => {
  const { proxy, upstream } = await setup(t);
  for (const mode of ['cors', 'navigate', 'no-cors']) {
    assertRefused(t, await request(proxy.url, { path: '/v1/vaults', headers: [AUTH, ['Sec-Fetch-Mode', mode]] }), `Sec-Fetch-Mode: ${mode}`);
  }
  t.equal(upstream.requests.length, 0, 'the upstream received nothing');
  t.equal(sampleValue(await scrape(proxy.adminUrl), 'custody_proxy_browser_refusals_total'), 3);
  const same = await request(proxy.url, { path: '/v1/vaults', headers: [AUTH, ['Sec-Fetch-Mode', 'same-origin']] });
  t.equal(same.status, 200, 'Sec-Fetch-Mode: same-origin is forwarded');
  t.equal(upstream.requests.length, 1);
});

t.test("refuse: Node's global fetch is refused too (it always sends Sec-Fetch-Mode: cors)", async (t) => {
  const { proxy, upstream } = await setup(t);
  const res = await fetch(`${proxy.url}/v1/vaults`, { headers: { authorization: bearer(key) } });
  t.equal(res.status, 403, 'as README "Browser requests" warns');
  t.equal((await res.json() as Record<string, unknown>)['code'], 'FORBIDDEN');
  t.equal(upstream.requests.length, 0);
});

t.test('allow: browser requests are authenticated and forwarded as any other', async (t) => {
  const { proxy, upstream } = await setup(t, { browserRequests: 'allow' });
  const ok = await request(proxy.url, { path: '/v1/vaults', headers: [AUTH, ['Origin', 'https://app.example'], ['Sec-Fetch-Mode', 'cors']] });
  t.equal(ok.status, 200, 'forwarded');
  t.equal(upstream.requests.length, 1);
  t.equal(upstream.requests[0]?.headers['origin'], 'https://app.example', 'Origin reaches the upstream unchanged');
  const noKey = await request(proxy.url, { method: 'OPTIONS', path: '/v1/vaults', headers: [['Origin', 'https://app.example'], ['Access-Control-Request-Method', 'GET']] });
  t.equal(noKey.status, 401, 'an unauthenticated preflight is a plain 401');
  t.equal(upstream.requests.length, 1, 'and is not forwarded');
  t.equal(sampleValue(await scrape(proxy.adminUrl), 'custody_proxy_browser_refusals_total'), 0, 'nothing refused as a browser request');
});

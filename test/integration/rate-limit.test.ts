// Rate limits (SPEC §13) through the real proxy on real sockets, memory limiter: tenant, key, both,
// burst and Retry-After, the RateLimit fields, a reload that changes one tenant's limit, the metrics.
// Every refusal is checked at the upstream too: a refused request never reaches it.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { bearer, credentialsYaml, type KeySpec, type TenantSpec } from '../helpers/credentials.js';
import { proxyFixture } from '../helpers/proxy-fixture.js';
import { call, assertProxyError, type CallReply } from '../helpers/proxy-calls.js';
import { sampleValue, scrape } from '../helpers/metrics-text.js';

type Limit = { limit: number; window: string; burst?: number };
const tenants = (over: Record<string, Limit> = {}): Array<TenantSpec & { rateLimit?: Limit }> => [
  { id: 'tnt_t', rateLimit: over['tnt_t'] ?? { limit: 3, window: '1m' } },
  { id: 'tnt_k' },
  { id: 'tnt_both', rateLimit: { limit: 3, window: '1m' } },
  { id: 'tnt_burst', rateLimit: { limit: 2, window: '2s', burst: 4 } },
  { id: 'tnt_keep', rateLimit: over['tnt_keep'] ?? { limit: 2, window: '1m' } },
  { id: 'tnt_free' },
];
const K = {
  t1: { keyId: 'ck_t1', tenant: 'tnt_t', secret: 's-t1' },
  t2: { keyId: 'ck_t2', tenant: 'tnt_t', secret: 's-t2' },
  k1: { keyId: 'ck_k1', tenant: 'tnt_k', secret: 's-k1', rateLimit: { limit: 2, window: '1m' } },
  k2: { keyId: 'ck_k2', tenant: 'tnt_k', secret: 's-k2' },
  b1: { keyId: 'ck_b1', tenant: 'tnt_both', secret: 's-b1', rateLimit: { limit: 2, window: '1m' } },
  b2: { keyId: 'ck_b2', tenant: 'tnt_both', secret: 's-b2' },
  burst: { keyId: 'ck_burst', tenant: 'tnt_burst', secret: 's-burst' },
  keep: { keyId: 'ck_keep', tenant: 'tnt_keep', secret: 's-keep' },
  free: { keyId: 'ck_free', tenant: 'tnt_free', secret: 's-free' },
};
const doc = (over?: Record<string, Limit>): string => credentialsYaml(tenants(over), Object.values(K) as KeySpec[]);

const f = proxyFixture(t, { credentialsYaml: doc() });

const get = (k: { keyId: string; secret: string }, p = '/v1/x'): Promise<CallReply> =>
  call(f.proxy.url, { path: p, headers: [['Authorization', bearer(k)]] });
/** status codes of n requests in a row */
async function statuses(k: { keyId: string; secret: string }, n: number, p = '/v1/x'): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await get(k, p)).status);
  return out;
}
const reached = (p: string): number => f.upstream.requests.filter((r) => r.url === p).length;

t.test('metrics: refusals by scope exported at 0 from start', async (t) => {
  const text = await scrape(f.proxy.adminUrl);
  for (const scope of ['tenant', 'key', 'failed_auth']) {
    t.equal(sampleValue(text, 'custody_proxy_rate_limit_refusals_total', `{scope="${scope}"}`), 0, scope);
  }
  t.equal(sampleValue(text, 'custody_proxy_rate_limit_store_errors_total'), 0);
});

t.test('a tenant limit counts all its keys together; the refusal is 429 RATE_LIMITED and never forwarded', async (t) => {
  t.same([...(await statuses(K.t1, 2, '/v1/t')), ...(await statuses(K.t2, 1, '/v1/t'))], [200, 200, 200]);
  const refused = await get(K.t2, '/v1/t');
  assertProxyError(t, refused, 429, 'RATE_LIMITED', 'tenant limit');
  t.equal(refused.headers['ratelimit-policy'], '"tenant";q=3;w=60');
  t.match(refused.headers['ratelimit'], /^"tenant";r=0;t=(\d+)$/);
  const retry = Number(refused.headers['retry-after']);
  t.ok(retry >= 1 && retry <= 60, `Retry-After ${retry} within [1, window]`);
  t.equal(refused.headers['ratelimit'], `"tenant";r=0;t=${retry}`, 't equals Retry-After');
  t.equal((await get(K.t1, '/v1/t')).status, 429, 'the other key of the tenant too');
  t.equal(reached('/v1/t'), 3, 'the upstream saw only the admitted requests');
  t.equal((await get(K.free, '/v1/t')).status, 200, 'a tenant without limits is not affected');
  t.notOk((await get(K.free, '/v1/t')).headers['ratelimit'], 'admitted responses carry no RateLimit fields');
});

t.test('a key limit counts that key alone', async (t) => {
  t.same(await statuses(K.k1, 3, '/v1/k'), [200, 200, 429]);
  t.same(await statuses(K.k2, 3, '/v1/k'), [200, 200, 200], 'the other key of the tenant is not limited');
  t.equal(reached('/v1/k'), 5);
  const refused = await get(K.k1, '/v1/k');
  t.equal(refused.headers['ratelimit-policy'], '"key";q=2;w=60');
});

t.test('tenant and key limits both apply; a request refused by one is not charged to the other', async (t) => {
  t.same(await statuses(K.b1, 3, '/v1/b'), [200, 200, 429], 'b1 stops at its key limit (2)');
  t.same(await statuses(K.b2, 2, '/v1/b'), [200, 429], 'the tenant limit (3) had one left: the key refusal used none');
  t.equal(reached('/v1/b'), 3);
  const metrics = await scrape(f.proxy.adminUrl);
  t.ok((sampleValue(metrics, 'custody_proxy_rate_limit_refusals_total', '{scope="key"}') ?? 0) >= 2, 'key refusals counted');
  t.ok((sampleValue(metrics, 'custody_proxy_rate_limit_refusals_total', '{scope="tenant"}') ?? 0) >= 3, 'tenant refusals counted');
});

t.test('burst: the bucket (burst) is admitted at once, the next refused, admitted again after the window', async (t) => {
  t.same(await statuses(K.burst, 5, '/v1/burst'), [200, 200, 200, 200, 429]);
  const refused = await get(K.burst, '/v1/burst');
  const retry = Number(refused.headers['retry-after']);
  t.ok(retry >= 1 && retry <= 2, `Retry-After ${retry}: never 0, never longer than the 2 s window`);
  t.equal(refused.headers['ratelimit-policy'], '"tenant";q=2;w=2');
  await sleep(2100);
  t.same(await statuses(K.burst, 3, '/v1/burst'), [200, 200, 429], 'a window later: limit (2) admitted again');
  t.equal(reached('/v1/burst'), 6);
});

t.test('a reload that changes one tenant limit keeps the other tenants counters', async (t) => {
  t.same(await statuses(K.keep, 1, '/v1/keep'), [200], 'tnt_keep used 1 of 2');
  t.same(await statuses(K.t1, 1, '/v1/keep'), [429], 'tnt_t is exhausted');
  writeFileSync(path.join(f.proxy.dir, 'credentials.yaml'), doc({ tnt_t: { limit: 5, window: '1m' } }));
  await f.proxy.app.reloadCredentials();
  t.equal((await get(K.t1, '/v1/keep')).status, 200, 'the changed limit applies at once, without a restart');
  t.same(await statuses(K.keep, 2, '/v1/keep'), [200, 429], 'tnt_keep still has 1 of 2 left, not a fresh bucket');
});

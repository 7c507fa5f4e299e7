// Failed-authentication throttling (SPEC §13 rateLimits.failedAuth) through the real proxy: after
// `limit` failed authentications from one client IP within the window, every request from that IP,
// a valid one too, gets 429 RATE_LIMITED before authentication, and reaches no upstream; other client
// IPs (told apart here through a trusted X-Forwarded-For) are not affected; a success resets nothing.
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { bearer, credentialsYaml } from '../helpers/credentials.js';
import { proxyFixture } from '../helpers/proxy-fixture.js';
import { assertProxyError, call, type CallReply } from '../helpers/proxy-calls.js';
import { sampleValue, scrape } from '../helpers/metrics-text.js';

const GOOD = { keyId: 'ck_good', tenant: 'tnt_a', secret: 'right' };
const f = proxyFixture(t, {
  credentialsYaml: credentialsYaml([{ id: 'tnt_a' }], [GOOD]),
  config: { trustedProxies: ['127.0.0.1/32'], rateLimits: { failedAuth: { limit: 3, window: '2s' } } },
});

const from = (ip: string, auth: string, p: string): Promise<CallReply> =>
  call(f.proxy.url, { path: p, headers: [['Authorization', auth], ['X-Forwarded-For', ip]] });
const bad = (ip: string, p = '/v1/fa'): Promise<CallReply> => from(ip, bearer({ keyId: 'ck_good', secret: 'wrong' }), p);
const good = (ip: string, p = '/v1/fa'): Promise<CallReply> => from(ip, bearer(GOOD), p);

t.test('limit failures pass to authentication (401); then every request from that IP gets 429', async (t) => {
  t.equal((await good('203.0.113.1')).status, 200, 'a success first');
  for (let i = 0; i < 3; i++) t.equal((await bad('203.0.113.1')).status, 401, `failure ${i + 1}`);
  t.equal((await good('203.0.113.1')).status, 429, 'the earlier success reset nothing: a valid key is refused too');
  const refused = await bad('203.0.113.1');
  assertProxyError(t, refused, 429, 'RATE_LIMITED', 'failed-auth throttling');
  t.notOk(refused.headers['www-authenticate'], 'a throttled request is not an authentication challenge');
  const retry = Number(refused.headers['retry-after']);
  t.ok(retry >= 1 && retry <= 2, `Retry-After ${retry} within [1, 2 s window]`);
  t.equal(refused.headers['ratelimit-policy'], '"failed_auth";q=3;w=2');
  t.equal(refused.headers['ratelimit'], `"failed_auth";r=0;t=${retry}`);
  t.equal((await good('203.0.113.2')).status, 200, 'another client IP is not affected');
  t.equal(f.upstream.requests.filter((r) => r.url === '/v1/fa').length, 2, 'only the two successes reached the upstream');
  const metrics = await scrape(f.proxy.adminUrl);
  t.equal(sampleValue(metrics, 'custody_proxy_rate_limit_refusals_total', '{scope="failed_auth"}'), 2);
});

t.test('the window allows again', async (t) => {
  for (let i = 0; i < 3; i++) await bad('203.0.113.9', '/v1/later');
  t.equal((await good('203.0.113.9', '/v1/later')).status, 429);
  await sleep(2100);
  t.equal((await good('203.0.113.9', '/v1/later')).status, 200, 'admitted once the window has passed');
  t.equal(f.upstream.requests.filter((r) => r.url === '/v1/later').length, 1);
});

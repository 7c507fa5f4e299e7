// SPEC §11 metrics: a scripted mix of traffic (ok, 401, allowlist and permission 403s, replay,
// conflict, upstream failure, refused reload) moves each custody_proxy_* family as expected, labels stay
// bounded (no key ids, IPs or paths); a real proxy process exports every labelled counter at 0 from
// start and its WHOLE endpoint (Node process metrics included) passes `promtool check metrics`;
// requests_in_flight follows a request held by a slow upstream and custody_proxy_ready turns 0 on drain.
import t from 'tap';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startUpstream } from '../helpers/recording-upstream.js';
import { startProxy } from '../helpers/start-proxy.js';
import { spawnProxy } from '../helpers/spawn-proxy.js';
import { credentialsYaml, bearer, type KeySpec } from '../helpers/credentials.js';
import { request, startRequest } from '../helpers/http-client.js';
import { familiesOfType, promtoolCheck, samples, sampleValue, scrape } from '../helpers/metrics-text.js';
import { gate, waitFor } from '../helpers/waits.js';

const key: KeySpec = { keyId: 'ck_test_metrics_key', tenant: 'tnt_m', secret: 'sk_test_metrics_secret' };
const fenced: KeySpec = { keyId: 'ck_test_fenced_key', tenant: 'tnt_fenced', secret: 'sk_test_fenced_secret' };
const reader: KeySpec = {
  keyId: 'ck_test_reader_key',
  tenant: 'tnt_m',
  secret: 'sk_test_reader_secret',
  permissions: [{ methods: ['GET'], paths: ['/v1/reports/**'] }],
};

const value = (text: string, name: string, labels = ''): number => sampleValue(text, name, labels) ?? 0;

t.test('a scripted mix moves every family', async (t) => {
  const upstream = await startUpstream((req, res) => {
    if (req.url === '/v1/reset') {
      req.socket.destroy();
      return;
    }
    res.writeHead(201, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  const proxy = await startProxy({
    upstreamUrl: upstream.url,
    credentialsYaml: credentialsYaml([{ id: 'tnt_m' }, { id: 'tnt_fenced', ipAllowList: ['10.0.0.0/8'] }], [key, fenced, reader]),
  });
  t.teardown(async () => {
    await proxy.close();
    await upstream.close();
  });
  const auth: [string, string] = ['Authorization', bearer(key)];
  await request(proxy.url, { path: '/v1/vaults', headers: [auth] });
  await request(proxy.url, { path: '/v1/vaults', headers: [['Authorization', 'Bearer ck_test_nobody:x']] });
  await request(proxy.url, { path: '/v1/vaults', headers: [['Authorization', `Bearer ${key.keyId}:wrong`]] });
  await request(proxy.url, { path: '/v1/vaults', headers: [['Authorization', bearer(fenced)]] });
  t.equal((await request(proxy.url, { path: '/v1/vaults', headers: [['Authorization', bearer(reader)]] })).status, 403, 'outside its permissions');
  const keyed = (body: string) =>
    request(proxy.url, { method: 'POST', path: '/v1/vaults', headers: [auth, ['Idempotency-Key', 'm-1'], ['Content-Type', 'application/json']], body });
  t.equal((await keyed('{"a":1}')).status, 201);
  t.equal((await keyed('{"a":1}')).headers['idempotent-replayed'], 'true');
  t.equal((await keyed('{"a":2}')).status, 422);
  t.equal((await request(proxy.url, { path: '/v1/reset', headers: [auth] })).status, 502);
  t.equal(value(await scrape(proxy.adminUrl), 'custody_proxy_credentials_last_reload_success'), 1, 'the first load succeeded');
  writeFileSync(path.join(proxy.dir, 'credentials.yaml'), 'tenants: [');
  t.equal(await proxy.app.reloadCredentials(), 'rejected');

  const m = await scrape(proxy.adminUrl);
  t.equal(value(m, 'custody_proxy_requests_total', '{outcome="ok",status_class="2xx"}'), 2, 'ok requests');
  t.equal(value(m, 'custody_proxy_requests_total', '{outcome="UNAUTHORIZED",status_class="4xx"}'), 2);
  t.equal(value(m, 'custody_proxy_requests_total', '{outcome="FORBIDDEN",status_class="4xx"}'), 2);
  t.equal(value(m, 'custody_proxy_requests_total', '{outcome="replayed",status_class="2xx"}'), 1);
  t.equal(value(m, 'custody_proxy_requests_total', '{outcome="IDEMPOTENCY_CONFLICT",status_class="4xx"}'), 1);
  t.equal(value(m, 'custody_proxy_requests_total', '{outcome="UPSTREAM_OUTCOME_UNKNOWN",status_class="5xx"}'), 1);
  t.equal(value(m, 'custody_proxy_auth_failures_total', '{reason="unknown_key"}'), 1);
  t.equal(value(m, 'custody_proxy_auth_failures_total', '{reason="bad_secret"}'), 1);
  t.equal(value(m, 'custody_proxy_allowlist_denials_total', '{reason="ip_not_allowed"}'), 1);
  const allowlistDenials = [...samples(m, 'custody_proxy_allowlist_denials_total').values()].reduce((a, b) => a + b, 0);
  t.equal(allowlistDenials, 1, 'the permission denial is not an allowlist denial');
  t.equal(value(m, 'custody_proxy_permission_denials_total'), 1, 'it is a permission denial');
  t.equal(value(m, 'custody_proxy_idempotency_total', '{outcome="stored"}'), 1);
  t.equal(value(m, 'custody_proxy_idempotency_total', '{outcome="replayed"}'), 1);
  t.equal(value(m, 'custody_proxy_idempotency_total', '{outcome="conflict"}'), 1);
  t.equal(value(m, 'custody_proxy_credential_reloads_total', '{result="rejected"}'), 1);
  t.equal(value(m, 'custody_proxy_credential_reloads_total', '{result="applied"}'), 1);
  t.equal(value(m, 'custody_proxy_credentials_last_reload_success'), 0, 'the refused reload sets last_reload_success 0');
  t.ok(value(m, 'custody_proxy_credential_last_reload_timestamp_seconds') > Date.now() / 1000 - 600);
  t.equal(value(m, 'custody_proxy_credentials', '{status="active"}'), 3);
  t.equal(value(m, 'custody_proxy_request_duration_seconds_count', '{outcome="ok"}'), 2);
  t.ok(value(m, 'custody_proxy_upstream_duration_seconds_count', '{status_class="2xx"}') >= 1);
  for (const forbidden of [key.keyId, fenced.keyId, reader.keyId, '127.0.0.1', '/v1/', 'sk_test']) {
    t.notOk(m.includes(forbidden), `no ${forbidden} in any label`);
  }
});

/** Label values every labelled counter must export at 0 before any traffic (SPEC §11 rev 2). */
const AT_ZERO_FROM_START: ReadonlyArray<readonly [string, string]> = [
  ['custody_proxy_auth_failures_total', '{reason="missing"}'],
  ['custody_proxy_auth_failures_total', '{reason="malformed"}'],
  ['custody_proxy_auth_failures_total', '{reason="unknown_key"}'],
  ['custody_proxy_auth_failures_total', '{reason="bad_secret"}'],
  ['custody_proxy_auth_failures_total', '{reason="revoked"}'],
  ['custody_proxy_auth_failures_total', '{reason="grace_expired"}'],
  ['custody_proxy_auth_failures_total', '{reason="expired"}'],
  ['custody_proxy_auth_failures_total', '{reason="environment"}'],
  ['custody_proxy_browser_refusals_total', ''],
  ['custody_proxy_allowlist_denials_total', '{reason="ip_not_allowed"}'],
  ['custody_proxy_allowlist_denials_total', '{reason="credential_ip_not_allowed"}'],
  ['custody_proxy_allowlist_denials_total', '{reason="client_ip_unknown"}'],
  ['custody_proxy_permission_denials_total', ''],
  ['custody_proxy_report_only_denials_total', '{check="allowlist"}'],
  ['custody_proxy_report_only_denials_total', '{check="permission"}'],
  ['custody_proxy_credential_reloads_total', '{result="unchanged"}'],
  ['custody_proxy_credential_reloads_total', '{result="rejected"}'],
  ['custody_proxy_credential_reloads_total', '{result="error"}'],
  ...['stored', 'replayed', 'conflict', 'in_progress', 'released', 'store_error', 'evicted'].map((o) => ['custody_proxy_idempotency_total', `{outcome="${o}"}`] as const),
  ...['late_stored', 'late_released', 'late_dropped', 'not_stored'].map((e) => ['custody_proxy_idempotency_store_events_total', `{event="${e}"}`] as const),
  ['custody_proxy_idempotency_store_losses_total', ''],
  ['custody_proxy_parser_errors_total', '{reason="HPE_HEADER_OVERFLOW"}'],
  ['custody_proxy_requests_total', '{outcome="ok",status_class="5xx"}'],
  ['custody_proxy_requests_total', '{outcome="UNAUTHORIZED",status_class="4xx"}'],
  ['custody_proxy_requests_total', '{outcome="UPSTREAM_TIMEOUT",status_class="5xx"}'],
  ['custody_proxy_requests_total', '{outcome="IDEMPOTENCY_STORE_UNAVAILABLE",status_class="5xx"}'],
];

t.test('a real proxy process: counters at 0 from start, build info, and the whole endpoint passes promtool', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const proxy = await spawnProxy(t, { upstreamUrl: upstream.url, credentialsYaml: credentialsYaml([{ id: 'tnt_m' }], [key]) });

  const fresh = await scrape(proxy.adminUrl);
  for (const [name, labels] of AT_ZERO_FROM_START) t.equal(sampleValue(fresh, name, labels), 0, `${name}${labels} exported at 0`);
  for (const family of familiesOfType(fresh, 'counter').filter((n) => n.startsWith('custody_proxy_'))) {
    t.ok(samples(fresh, family).size > 0, `${family}: a series from start`);
  }
  t.equal(value(fresh, 'custody_proxy_credential_reloads_total', '{result="applied"}'), 1, 'the first load');
  t.equal(value(fresh, 'custody_proxy_credentials_last_reload_success'), 1);
  t.equal(value(fresh, 'custody_proxy_ready'), 1, 'ready: a document is loaded');
  t.equal(value(fresh, 'custody_proxy_requests_in_flight'), 0);
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  t.equal(sampleValue(fresh, 'custody_proxy_build_info', `{version="${pkg.version}"}`), 1, 'build_info carries the package version');

  await request(proxy.url, { path: '/v1/vaults', headers: [['Authorization', bearer(key)]] });
  await request(proxy.url, { path: '/v1/vaults', headers: [['Authorization', 'Bearer ck_test_nobody:x']] });
  const text = await scrape(proxy.adminUrl);
  t.ok(sampleValue(text, 'process_cpu_seconds_total') !== undefined, 'Node process metrics are exported');
  t.notMatch(text, /^# TYPE nodejs_active_\w+_total /m, 'no gauge named *_total (prometheus/client_js#283)');
  t.ok(sampleValue(text, 'custody_proxy_request_duration_seconds_bucket', '{le="0.0001",outcome="ok"}') !== undefined, 'a 100 µs bucket');
  const lint = promtoolCheck(text);
  if (!lint.ran) {
    t.notOk(process.env['CI'], 'promtool is installed in CI');
    t.comment('promtool not installed: `apt-get install prometheus` to lint the endpoint');
    return;
  }
  t.ok(lint.ok, `promtool check metrics on the whole endpoint: ${lint.output}`);
});

t.test('requests_in_flight counts a request a slow upstream holds; custody_proxy_ready is 0 while draining', async (t) => {
  const held = gate();
  const upstream = await startUpstream((_req, res) => {
    void held.wait.then(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  t.teardown(async () => {
    held.open();
    await upstream.close();
  });
  const proxy = await startProxy({ upstreamUrl: upstream.url, credentialsYaml: credentialsYaml([{ id: 'tnt_m' }], [key]) });
  t.teardown(() => rmSync(proxy.dir, { recursive: true, force: true }));

  const slow = startRequest(proxy.url, { path: '/v1/slow', headers: [['Authorization', bearer(key)]] });
  await waitFor(() => upstream.requests.length === 1, 5000, 'the upstream to receive the request');
  const during = await scrape(proxy.adminUrl);
  t.equal(value(during, 'custody_proxy_requests_in_flight'), 1, 'one request in flight');
  t.equal(value(during, 'custody_proxy_ready'), 1);

  const stopping = proxy.app.shutdown();
  const draining = await scrape(proxy.adminUrl);
  t.equal(value(draining, 'custody_proxy_ready'), 0, 'draining: /readyz would answer 503');
  t.equal(value(draining, 'custody_proxy_requests_in_flight'), 1, 'the held request is still in flight');
  held.open();
  t.equal((await slow.reply).status, 200, 'the held request finishes');
  t.equal(proxy.app.metrics.inFlight.requests, 0, 'and leaves the count');
  await stopping;
});

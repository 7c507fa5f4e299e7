// Issue 16 acceptance: a real Prometheus (scrape and rule evaluation every second, rule_files =
// deploy/prometheus/alerts.yaml) scrapes a real `custody-proxy serve` whose idempotency store is a
// private redis-server. Traffic makes every Grafana panel's query return data; then ONE bad credentials
// edit and a frozen Redis (SIGSTOP): the reload alert's expression turns true and the alert fires,
// the refusal is counted exactly once, and the replica stays ready (custody_proxy_ready 1, every
// scrape answered) while custody_proxy_idempotency_store_up is 0.
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { bearer, credentialsYaml, type KeySpec } from '../helpers/credentials.js';
import { request } from '../helpers/http-client.js';
import { metricNames, panelQueries, readAlertRules, readDashboard, substituteVariables, ALERTS_FILE } from '../helpers/monitoring-files.js';
import { prometheusInstalled, startPrometheus, type PrometheusServer } from '../helpers/prometheus-server.js';
import { startUpstream } from '../helpers/recording-upstream.js';
import { missing, redisServerInstalled, startPrivateRedis } from '../helpers/redis-server.js';
import { spawnProxy, type SpawnedProxy } from '../helpers/spawn-proxy.js';
import { waitFor } from '../helpers/waits.js';

const JOB = 'custody-proxy';
const OK: KeySpec = { keyId: 'ck_test_prom_ok', tenant: 'tnt_p', secret: 'sk_test_prom_ok_secret' };
const FENCED: KeySpec = { keyId: 'ck_test_prom_fenced', tenant: 'tnt_fenced', secret: 'sk_test_prom_fenced_secret' };
const READER: KeySpec = { ...OK, keyId: 'ck_test_prom_reader', secret: 'sk_test_prom_reader_secret', permissions: [{ methods: ['GET'], paths: ['/v1/vaults'] }] };
const CREDENTIALS = credentialsYaml([{ id: 'tnt_p' }, { id: 'tnt_fenced', ipAllowList: ['10.0.0.0/8'] }], [OK, FENCED, READER]);
const RELOAD_ALERT = 'CustodyProxyCredentialReloadFailed';

const ROUND_STATUSES = [200, 200, 200, 401, 401, 403, 403, 502, 200, 200, 422];

/** One of each outcome the panels show: ok, 401 × 2, allowlist and permission 403s, 502, stored/replayed/conflict. */
async function sendRound(proxy: SpawnedProxy): Promise<number[]> {
  const get = (key: Pick<KeySpec, 'keyId' | 'secret'>, p = '/v1/vaults') => request(proxy.url, { path: p, headers: [['Authorization', bearer(key)]] });
  const replies = [];
  for (let i = 0; i < 3; i++) replies.push(await get(OK));
  replies.push(await get({ keyId: 'ck_test_nobody', secret: 'x' }), await get({ ...OK, secret: 'wrong' }));
  replies.push(await get(FENCED), await get(READER, '/v1/reports'), await get(OK, '/v1/reset'));
  const idempotencyKey = randomUUID();
  const keyed = (body: string) =>
    request(proxy.url, { method: 'POST', path: '/v1/transfers', body, headers: [['Authorization', bearer(OK)], ['Idempotency-Key', idempotencyKey], ['Content-Type', 'application/json']] });
  replies.push(await keyed('{"amount":1}'), await keyed('{"amount":1}'), await keyed('{"amount":2}'));
  return replies.map((r) => r.status);
}

async function scalar(prom: PrometheusServer, expr: string): Promise<number | undefined> {
  const r = await prom.query(expr);
  return r.length === 1 ? r[0]?.value : undefined;
}

/** Waits (bounded) until every panel query has a finite sample; asserts each, naming the empty ones. */
async function assertPanelsHaveData(t: Test, prom: PrometheusServer): Promise<void> {
  const queries = panelQueries(readDashboard()).map((q) => ({ ...q, expr: substituteVariables(q.expr, JOB) }));
  const empty = new Set(queries);
  await waitFor(async () => {
    for (const q of [...empty]) if ((await prom.query(q.expr)).some((s) => Number.isFinite(s.value))) empty.delete(q);
    return empty.size === 0;
  }, 10_000, 'every panel query to return data').catch(() => undefined);
  for (const q of queries) t.notOk(empty.has(q), `panel "${q.panel}" ${q.refId} returns data: ${q.expr}`);
}

/** Every metric the alerts and the dashboard read is one the running proxy exports. */
async function assertNamesExported(t: Test, proxy: SpawnedProxy): Promise<void> {
  const text = (await request(proxy.adminUrl, { path: '/metrics' })).text;
  const exported = new Set(text.split('\n').map((l) => /^([a-zA-Z_:][\w:]*)[{ ]/.exec(l)?.[1]).filter((n) => n !== undefined));
  const read = [...readAlertRules().map((r) => r.expr), ...panelQueries(readDashboard()).map((q) => q.expr)].flatMap(metricNames);
  // This proxy has no `tls`: those metrics exist only with it (tls-listener.test.ts reads them).
  for (const name of new Set(read)) {
    if (name.startsWith('custody_proxy_tls_')) continue;
    t.ok(exported.has(name), `${name} is exported`);
  }
}

/** waitFor as an assertion: a timeout fails the test and lets the later checks still report. */
async function eventually(t: Test, cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<boolean> {
  const ok = await waitFor(cond, timeoutMs, what).then(() => true, () => false);
  t.ok(ok, `${what} (within ${timeoutMs} ms)`);
  return ok;
}

/** Seconds of Prometheus history since `since` (whole, never reaching before it). */
const windowSince = (since: number): string => `${Math.max(1, Math.floor((Date.now() - since) / 1000))}s`;

async function assertReloadAlertFires(t: Test, prom: PrometheusServer): Promise<void> {
  const rule = readAlertRules().find((r) => r.alert === RELOAD_ALERT);
  if (!rule) throw new Error(`${RELOAD_ALERT} is not in alerts.yaml`);
  const fired = await eventually(t, async () => (await prom.query(rule.expr)).length > 0, 10_000, `the ${RELOAD_ALERT} expression turns true`);
  if (fired) await eventually(t, async () => (await prom.query(`ALERTS{alertname="${RELOAD_ALERT}",alertstate="firing"}`)).length > 0, 5_000, `${RELOAD_ALERT} fires`);
}

/** Checked seconds after the edit, when a second reload (watch and poll both seeing it) would show. */
async function assertCountedOnce(t: Test, prom: PrometheusServer, rejectedBefore: number): Promise<void> {
  t.equal(await scalar(prom, 'custody_proxy_credential_reloads_total{result="rejected"}'), rejectedBefore + 1, 'the refused edit is counted once');
  t.equal(await scalar(prom, 'changes(custody_proxy_credential_reloads_total{result="rejected"}[1m])'), 1, 'the rejected counter moved once, from 0');
  t.equal((await prom.query(`ALERTS{alertname="${RELOAD_ALERT}"}`)).length, 1, `one ${RELOAD_ALERT} alert: one result, one replica`);
}

/** With the store frozen: store_up 0 in every sample since it was first seen 0, ready 1 and every scrape up. */
async function assertReadyWhileStoreDown(t: Test, prom: PrometheusServer): Promise<void> {
  await waitFor(async () => (await prom.query('custody_proxy_idempotency_store_up == 0')).length > 0, 15_000, 'store_up 0 in Prometheus');
  const downSince = Date.now();
  await waitFor(async () => ((await scalar(prom, `count_over_time(custody_proxy_idempotency_store_up[${windowSince(downSince)}])`)) ?? 0) >= 3, 15_000, 'three scrapes with the store down');
  const w = windowSince(downSince);
  t.equal(await scalar(prom, `max_over_time(custody_proxy_idempotency_store_up[${w}])`), 0, `store_up 0 for the last ${w}`);
  t.equal(await scalar(prom, `min_over_time(custody_proxy_ready[${w}])`), 1, `custody_proxy_ready 1 for the last ${w}`);
  // A scrape that waits for the frozen store past scrape_timeout fails whole: no sample of anything.
  const slowest = await scalar(prom, `max_over_time(scrape_duration_seconds{job="${JOB}"}[${w}])`);
  t.equal(await scalar(prom, `min_over_time(up{job="${JOB}"}[${w}])`), 1, `every scrape in the last ${w} answered (slowest ${slowest} s)`);
  t.equal(await scalar(prom, '(custody_proxy_ready and on (instance) (custody_proxy_idempotency_store_up == 0))'), 1, 'ready while the store is down');
}

if (!prometheusInstalled()) {
  t.fail('prometheus is not installed: apt-get install prometheus (.ci/run installs it)');
} else if (!redisServerInstalled()) {
  missing(t, 'redis-server is not installed (this test starts its own)');
} else {
  t.setTimeout(90_000);
  t.test('a real Prometheus scraping a real proxy: panels, one bad edit, a frozen store', async (t) => {
    const redis = await startPrivateRedis(t);
    const upstream = await startUpstream((req, res) => {
      if (req.url === '/v1/reset') return void req.socket.destroy();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
    t.teardown(() => upstream.close());
    const proxy = await spawnProxy(t, {
      upstreamUrl: upstream.url,
      credentialsYaml: CREDENTIALS,
      config: { idempotency: { store: 'redis', redis: { url: redis.url, keyPrefix: 'prometheus-alerts-test:' } } },
    });
    const prom = await startPrometheus(t, {
      job: JOB, target: `127.0.0.1:${proxy.adminPort}`, ruleFiles: [ALERTS_FILE],
      scrapeInterval: '1s', scrapeTimeout: '1s', evaluationInterval: '1s',
    });
    // A scrape before any traffic, and one between two rounds: every counter has a sample to rise from.
    await waitFor(async () => (await scalar(prom, `up{job="${JOB}"}`)) === 1, 15_000, 'a first scrape');
    t.same(await sendRound(proxy), ROUND_STATUSES, 'round 1');
    await waitFor(async () => ((await scalar(prom, 'sum(custody_proxy_requests_total{outcome="ok"})')) ?? 0) >= 3, 10_000, 'round 1 scraped');
    t.same(await sendRound(proxy), ROUND_STATUSES, 'round 2');
    await assertNamesExported(t, proxy);
    await assertPanelsHaveData(t, prom);

    const rejectedBefore = (await scalar(prom, 'custody_proxy_credential_reloads_total{result="rejected"}')) ?? 0;
    const credentials = path.join(proxy.dir, 'credentials.yaml');
    writeFileSync(credentials, `${readFileSync(credentials, 'utf8')}\n  - keyId: [unterminated\n`);
    redis.pause();
    try {
      await assertReloadAlertFires(t, prom);
      await assertReadyWhileStoreDown(t, prom);
      await assertCountedOnce(t, prom, rejectedBefore);
    } finally {
      redis.resume();
    }
  });
}

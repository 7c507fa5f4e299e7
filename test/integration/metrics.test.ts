// SPEC §11 metrics: a scripted mix of traffic (ok, 401, 403, replay, conflict, upstream failure,
// refused reload) moves each custody_proxy_* family as expected, labels stay bounded (no key ids,
// IPs or paths), and the project's own families pass `promtool check metrics`.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startUpstream } from '../helpers/recording-upstream.js';
import { startProxy } from '../helpers/start-proxy.js';
import { credentialsYaml, bearer } from '../helpers/credentials.js';
import { request } from '../helpers/http-client.js';

const key = { keyId: 'ck_test_metrics_key', tenant: 'tnt_m', secret: 'sk_test_metrics_secret' };
const fenced = { keyId: 'ck_test_fenced_key', tenant: 'tnt_fenced', secret: 'sk_test_fenced_secret' };

/** `name{labels} value` lines of one family, as a map from the label text to the value. */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) out.set(m[2] ?? '', Number(m[3]));
  }
  return out;
}

function value(text: string, name: string, labels: string): number {
  return samples(text, name).get(labels) ?? 0;
}

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
    credentialsYaml: credentialsYaml([{ id: 'tnt_m' }, { id: 'tnt_fenced', ipAllowList: ['10.0.0.0/8'] }], [key, fenced]),
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
  const keyed = (body: string) =>
    request(proxy.url, { method: 'POST', path: '/v1/vaults', headers: [auth, ['Idempotency-Key', 'm-1'], ['Content-Type', 'application/json']], body });
  t.equal((await keyed('{"a":1}')).status, 201);
  t.equal((await keyed('{"a":1}')).headers['idempotent-replayed'], 'true');
  t.equal((await keyed('{"a":2}')).status, 422);
  t.equal((await request(proxy.url, { path: '/v1/reset', headers: [auth] })).status, 502);
  writeFileSync(path.join(proxy.dir, 'credentials.yaml'), 'tenants: [');
  t.equal(await proxy.app.reloadCredentials(), 'rejected');

  const res = await request(proxy.adminUrl, { path: '/metrics' });
  t.equal(res.status, 200);
  const m = res.text;
  t.equal(value(m, 'custody_proxy_requests_total', '{outcome="ok",status_class="2xx"}'), 2, 'ok requests');
  t.equal(value(m, 'custody_proxy_requests_total', '{outcome="UNAUTHORIZED",status_class="4xx"}'), 2);
  t.equal(value(m, 'custody_proxy_requests_total', '{outcome="FORBIDDEN",status_class="4xx"}'), 1);
  t.equal(value(m, 'custody_proxy_requests_total', '{outcome="replayed",status_class="2xx"}'), 1);
  t.equal(value(m, 'custody_proxy_requests_total', '{outcome="IDEMPOTENCY_CONFLICT",status_class="4xx"}'), 1);
  t.equal(value(m, 'custody_proxy_requests_total', '{outcome="UPSTREAM_OUTCOME_UNKNOWN",status_class="5xx"}'), 1);
  t.equal(value(m, 'custody_proxy_auth_failures_total', '{reason="unknown_key"}'), 1);
  t.equal(value(m, 'custody_proxy_auth_failures_total', '{reason="bad_secret"}'), 1);
  t.equal(value(m, 'custody_proxy_allowlist_denials_total', '{reason="ip_not_allowed"}'), 1);
  t.equal(value(m, 'custody_proxy_idempotency_total', '{outcome="stored"}'), 1);
  t.equal(value(m, 'custody_proxy_idempotency_total', '{outcome="replayed"}'), 1);
  t.equal(value(m, 'custody_proxy_idempotency_total', '{outcome="conflict"}'), 1);
  t.equal(value(m, 'custody_proxy_credential_reloads_total', '{result="rejected"}'), 1);
  t.equal(value(m, 'custody_proxy_credential_reloads_total', '{result="applied"}'), 1);
  t.ok(value(m, 'custody_proxy_credential_last_reload_timestamp_seconds', '') > Date.now() / 1000 - 600);
  t.equal(value(m, 'custody_proxy_credentials', '{status="active"}'), 2);
  t.equal(value(m, 'custody_proxy_request_duration_seconds_count', '{outcome="ok"}'), 2);
  t.ok(value(m, 'custody_proxy_upstream_duration_seconds_count', '{status_class="2xx"}') >= 1);
  for (const forbidden of [key.keyId, fenced.keyId, '127.0.0.1', '/v1/', 'sk_test']) {
    t.notOk(m.includes(forbidden), `no ${forbidden} in any label`);
  }

  const own = m
    .split('\n')
    .filter((l) => /^(# (HELP|TYPE) )?custody_proxy_/.test(l))
    .join('\n');
  const promtool = spawnSync('promtool', ['check', 'metrics'], { input: `${own}\n`, encoding: 'utf8', timeout: 20_000 });
  if (promtool.error && !process.env['CI']) {
    t.comment('promtool not installed: `apt-get install prometheus` to lint the families');
    return;
  }
  t.equal(promtool.status, 0, `promtool check metrics: ${promtool.stdout}${promtool.stderr}`);
});

// SPEC §11 admin listener and §5 "no path is exempt": /healthz, /readyz (200 JSON when ready, 503 with
// reasons while draining) and /metrics (custody_proxy_* families that follow the traffic, no key ids,
// IPs or paths in label values) answer on the admin port without a key, and the same paths on the
// proxy port are ordinary requests that need one.
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { startUpstream, type RecordingUpstream } from '../helpers/recording-upstream.js';
import { startProxy, type TestProxy } from '../helpers/start-proxy.js';
import { credentialsYaml, bearer } from '../helpers/credentials.js';
import { request } from '../helpers/http-client.js';

const key = { keyId: 'ck_test_admin', tenant: 'tnt_admin', secret: 'sk_test_admin_secret' };
const CREDS = credentialsYaml([{ id: key.tenant }], [key]);

let upstream: RecordingUpstream;
let proxy: TestProxy;

t.before(async () => {
  upstream = await startUpstream();
  proxy = await startProxy({ upstreamUrl: upstream.url, credentialsYaml: CREDS });
});
t.teardown(async () => {
  await proxy.close();
  await upstream.close();
});

/** label values of every sample line in a Prometheus text exposition */
function labelValues(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.includes('{')) continue;
    const labels = line.slice(line.indexOf('{') + 1, line.lastIndexOf('}'));
    for (const m of labels.matchAll(/[a-zA-Z_][a-zA-Z0-9_]*="((?:[^"\\]|\\.)*)"/g)) out.push(m[1] ?? '');
  }
  return out;
}

/** the value of one sample, by metric name and exact labels (order-insensitive), or undefined */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const open = line.indexOf('{');
    const got: Record<string, string> = {};
    if (open !== -1 && line.startsWith(`${name}{`)) {
      for (const m of line.slice(open + 1, line.lastIndexOf('}')).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) got[m[1] ?? ''] = m[2] ?? '';
    }
    const wanted = Object.entries(labels);
    if (wanted.length === Object.keys(got).length && wanted.every(([k, v]) => got[k] === v)) {
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return undefined;
}

t.test('GET /healthz on the admin port → 200, no key needed', async (t) => {
  const r = await request(proxy.adminUrl, { path: '/healthz' });
  t.equal(r.status, 200);
  t.match(r.headers['content-type'], /^application\/json/);
  t.equal(r.json()['status'], 'ok');
});

t.test('GET /readyz on the admin port → 200 JSON when credentials are loaded', async (t) => {
  const r = await request(proxy.adminUrl, { path: '/readyz' });
  t.equal(r.status, 200);
  t.match(r.headers['content-type'], /^application\/json/);
  const body = r.json<{ ready: boolean; reasons: string[] }>();
  t.equal(body.ready, true);
  t.same(body.reasons, []);
});

t.test('the admin port ignores bearer keys entirely (a bad one still gets 200)', async (t) => {
  const r = await request(proxy.adminUrl, { path: '/healthz', headers: [['Authorization', 'Bearer ck_nope:sk_nope']] });
  t.equal(r.status, 200);
  const m = await request(proxy.adminUrl, { path: '/metrics' });
  t.equal(m.status, 200, '/metrics without a key');
});

t.test('GET /metrics → Prometheus text with custody_proxy_ families that follow traffic, no key ids, IPs or paths', async (t) => {
  const ok = await request(proxy.url, { path: '/v1/vaults/secret-path-segment?q=1', headers: [['Authorization', bearer(key)]] });
  t.equal(ok.status, 200, 'a forwarded request');
  const bad = await request(proxy.url, { path: '/v1/other-path', headers: [['Authorization', 'Bearer ck_test_unknown_key:sk_whatever']] });
  t.equal(bad.status, 401, 'an unknown key');
  const wrong = await request(proxy.url, { path: '/v1/other-path', headers: [['Authorization', `Bearer ${key.keyId}:sk_wrong`]] });
  t.equal(wrong.status, 401, 'a wrong secret');

  const r = await request(proxy.adminUrl, { path: '/metrics' });
  t.equal(r.status, 200);
  t.match(r.headers['content-type'], /^text\/plain/);
  const text = r.text;
  const names = new Set(
    text
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split(/[{ ]/)[0] ?? ''),
  );
  t.ok(names.size > 0, 'some samples');
  t.same([...names].filter((n) => !n.startsWith('custody_proxy_')), [], 'every family is custody_proxy_*');
  for (const family of [
    'custody_proxy_requests_total',
    'custody_proxy_request_duration_seconds',
    'custody_proxy_upstream_duration_seconds',
    'custody_proxy_auth_failures_total',
  ]) {
    t.match(text, new RegExp(`^# TYPE ${family} `, 'm'), `${family} exported`);
  }
  t.ok((sample(text, 'custody_proxy_requests_total', { outcome: 'ok', status_class: '2xx' }) ?? 0) >= 1, 'the 200 is counted');
  t.ok((sample(text, 'custody_proxy_requests_total', { outcome: 'UNAUTHORIZED', status_class: '4xx' }) ?? 0) >= 2, 'the 401s are counted');
  t.ok((sample(text, 'custody_proxy_auth_failures_total', { reason: 'unknown_key' }) ?? 0) >= 1, 'unknown key counted by reason');
  t.ok((sample(text, 'custody_proxy_auth_failures_total', { reason: 'bad_secret' }) ?? 0) >= 1, 'bad secret counted by reason');

  const values = labelValues(text);
  t.ok(values.length > 0, 'there are labelled samples');
  const leaks = values.filter(
    (v) =>
      v.includes('ck_') ||
      v.includes('sk_') ||
      v.includes('127.0.0.1') ||
      /^\d{1,3}(\.\d{1,3}){3}$/.test(v) ||
      v.includes(':') ||
      v.includes('/'),
  );
  t.same(leaks, [], 'no key id, secret, IP or path in any label value');
  t.notMatch(text, key.keyId, 'the key id appears nowhere');
  t.notMatch(text, 'ck_test_unknown_key', 'the unknown key id appears nowhere');
  t.notMatch(text, 'secret-path-segment', 'the path appears nowhere');
});

t.test('the proxy port has no exempt path: /healthz, /readyz, /metrics without a key → 401, upstream not called', async (t) => {
  const before = upstream.requests.length;
  for (const path of ['/healthz', '/readyz', '/metrics', '/admin/credentials']) {
    const r = await request(proxy.url, { path });
    t.equal(r.status, 401, `${path} → 401`);
    t.equal(r.headers['www-authenticate'], 'Bearer', `${path}: WWW-Authenticate: Bearer`);
    t.equal(r.json()['code'], 'UNAUTHORIZED');
  }
  t.equal(upstream.requests.length, before, 'upstream not called');
});

t.test('with a key, /healthz on the proxy port is forwarded like any other path', async (t) => {
  const before = upstream.requests.length;
  const r = await request(proxy.url, { path: '/healthz', headers: [['Authorization', bearer(key)]] });
  t.equal(r.status, 200);
  t.equal(upstream.requests.length, before + 1, 'the upstream answered it');
  t.equal(upstream.requests[before]?.url, '/healthz');
});

t.test('/admin/* is not served without an admin token configured, and never lists credentials', async (t) => {
  const r = await request(proxy.adminUrl, { path: '/admin/credentials' });
  t.not(r.status, 200, 'not served');
  t.notMatch(r.text, key.keyId, 'no key id in the answer');
  const post = await request(proxy.adminUrl, { method: 'POST', path: '/admin/reload' });
  t.not(post.status, 200, 'reload not served');
});

t.test('while draining: /readyz → 503 with reasons, /healthz still 200, in-flight request completes', async (t) => {
  const up = await startUpstream((_req, res) => {
    setTimeout(() => res.end('slow-ok'), 600);
  });
  const p = await startProxy({ upstreamUrl: up.url, credentialsYaml: CREDS, config: { shutdownTimeout: '5s' } });
  t.teardown(() => up.close());
  const inflight = request(p.url, { path: '/v1/slow', headers: [['Authorization', bearer(key)]] });
  for (let i = 0; i < 50 && up.requests.length === 0; i++) await sleep(10);
  t.equal(up.requests.length, 1, 'the request is at the upstream');
  const closing = p.close();
  const ready = await request(p.adminUrl, { path: '/readyz' });
  t.equal(ready.status, 503, 'not ready while draining');
  const body = ready.json<{ ready: boolean; reasons: string[] }>();
  t.equal(body.ready, false);
  t.ok(Array.isArray(body.reasons) && body.reasons.length > 0, 'with reasons');
  t.match(body.reasons.join(' '), /drain/, 'the reason says draining');
  const health = await request(p.adminUrl, { path: '/healthz' });
  t.equal(health.status, 200, 'still alive');
  const r = await inflight;
  t.equal(r.status, 200, 'in-flight request finished');
  t.equal(r.text, 'slow-ok');
  await closing;
});

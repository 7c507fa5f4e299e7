// SPEC §8 rev 2 with the real process: at load, one warn line per key expiring within
// credentials.expiryWarning or due for rotation (createdAt older than credentials.maxAge), never a
// hash, and the two gauges; /admin/credentials shows createdAt, expiresAt, the effective status and
// lastUsedAt (null before any use, moving with use, kept across a reload); `check` prints the same
// warnings and exits 0.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnProxy, type SpawnedProxy } from '../helpers/spawn-proxy.js';
import { startUpstream } from '../helpers/recording-upstream.js';
import { credentialsYaml, bearer, type KeySpec } from '../helpers/credentials.js';
import { request } from '../helpers/http-client.js';
import { scrape, sampleValue } from '../helpers/metrics-text.js';
import { waitFor } from '../helpers/waits.js';
import { inProcess } from '../helpers/cli-run.js';
import { main } from '../../src/cli.js';

const DAY = 86_400_000;
const NOW = Date.now();
const iso = (ms: number): string => new Date(ms).toISOString();
const TOKEN = 'adm_lifecycle_3f1e2d4c5b6a79880716253443526170';
const TENANTS = [{ id: 'tnt_lc' }];
const EXPIRING: KeySpec = { keyId: 'ck_test_lc_expiring', tenant: 'tnt_lc', secret: 'sk_test_lc_e', expiresAt: iso(NOW + DAY) };
const OLD: KeySpec = { keyId: 'ck_test_lc_old', tenant: 'tnt_lc', secret: 'sk_test_lc_o', createdAt: iso(NOW - 100 * DAY) };
const YOUNG: KeySpec = { keyId: 'ck_test_lc_young', tenant: 'tnt_lc', secret: 'sk_test_lc_y', createdAt: iso(NOW - DAY), expiresAt: iso(NOW + 30 * DAY) };
const GONE: KeySpec = { keyId: 'ck_test_lc_gone', tenant: 'tnt_lc', secret: 'sk_test_lc_g', expiresAt: iso(NOW - DAY) };
const PAST_GRACE: KeySpec = { keyId: 'ck_test_lc_past', tenant: 'tnt_lc', secret: 'sk_test_lc_p', status: 'rotated', graceUntil: iso(NOW - DAY), expiresAt: iso(NOW + DAY) };

interface KeyView {
  keyId: string;
  status: string;
  effectiveStatus: string;
  createdAt: string | null;
  expiresAt: string | null;
  lastUsedAt: string | null;
}

async function keys(p: SpawnedProxy): Promise<Map<string, KeyView>> {
  const r = await request(p.adminUrl, { path: '/admin/credentials', headers: [['Authorization', `Bearer ${TOKEN}`]] });
  if (r.status !== 200) throw new Error(`/admin/credentials answered ${r.status}`);
  return new Map(r.json<{ credentials: KeyView[] }>().credentials.map((c) => [c.keyId, c]));
}

const use = async (p: SpawnedProxy, k: KeySpec): Promise<number> => (await request(p.url, { path: '/v1/vaults', headers: [['Authorization', bearer(k)]] })).status;

t.test('warnings and gauges at load, effective status and lastUsedAt on /admin/credentials, check', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const tokenFile = path.join(t.testdir({ token: `${TOKEN}\n` }), 'token');
  const p = await spawnProxy(t, {
    upstreamUrl: upstream.url,
    credentialsYaml: credentialsYaml(TENANTS, [EXPIRING, OLD, YOUNG, GONE, PAST_GRACE]),
    config: { admin: { listen: '127.0.0.1:0', tokenFile } },
  });

  const warned = (msg: string): Array<Record<string, unknown>> => p.logLines().filter((l) => l['msg'] === msg);
  await waitFor(() => warned('credential due for rotation').length > 0, 2000, 'the rotation warning');
  t.match(warned('credential expiring'), [{ level: 'warn', keyId: EXPIRING.keyId, tenant: 'tnt_lc', expiresAt: EXPIRING.expiresAt }]);
  t.equal(warned('credential expiring').length, 1, 'expired, past-grace and far-off keys are not warned about');
  t.match(warned('credential due for rotation'), [{ level: 'warn', keyId: OLD.keyId, tenant: 'tnt_lc', createdAt: OLD.createdAt }]);
  t.equal(warned('credential due for rotation').length, 1, 'the young key is not due');
  t.notMatch(p.stdout(), 'sha256:', 'no hash in the log');

  const metrics = await scrape(p.adminUrl);
  t.equal(sampleValue(metrics, 'custody_proxy_credentials_expiring'), 1);
  t.equal(sampleValue(metrics, 'custody_proxy_credentials_rotation_due'), 1);

  const before = await keys(p);
  t.match(before.get(OLD.keyId), { status: 'active', effectiveStatus: 'active', createdAt: OLD.createdAt, expiresAt: null, lastUsedAt: null });
  t.match(before.get(GONE.keyId), { status: 'active', effectiveStatus: 'expired', expiresAt: GONE.expiresAt });
  t.match(before.get(PAST_GRACE.keyId), { status: 'rotated', effectiveStatus: 'expired' });
  t.match(before.get(YOUNG.keyId), { status: 'active', createdAt: YOUNG.createdAt, lastUsedAt: null });

  const sent = Date.now();
  t.equal(await use(p, OLD), 200);
  const first = (await keys(p)).get(OLD.keyId)?.lastUsedAt ?? '';
  t.ok(Date.parse(first) >= sent - 1 && Date.parse(first) <= Date.now(), `lastUsedAt ${first} is the request's time`);
  t.equal((await keys(p)).get(YOUNG.keyId)?.lastUsedAt, null, 'an unused key stays null');
  t.equal(await use(p, GONE), 401);
  t.equal((await keys(p)).get(GONE.keyId)?.lastUsedAt, null, 'a refused key is not used');
  await new Promise((r) => setTimeout(r, 10));
  t.equal(await use(p, OLD), 200);
  const second = (await keys(p)).get(OLD.keyId)?.lastUsedAt ?? '';
  t.ok(Date.parse(second) > Date.parse(first), `lastUsedAt moves: ${first} → ${second}`);

  // A reload without the expiring key: the old key keeps its lastUsedAt, the gauges follow.
  writeFileSync(path.join(p.dir, 'credentials.yaml'), credentialsYaml(TENANTS, [OLD, YOUNG]));
  const reload = await request(p.adminUrl, { method: 'POST', path: '/admin/reload', headers: [['Authorization', `Bearer ${TOKEN}`]] });
  t.equal(reload.json()['result'], 'applied');
  const after = await keys(p);
  t.equal(after.size, 2, 'the new document is in force');
  t.equal(after.get(OLD.keyId)?.lastUsedAt, second, 'lastUsedAt kept across the reload');
  const metricsAfter = await scrape(p.adminUrl);
  t.equal(sampleValue(metricsAfter, 'custody_proxy_credentials_expiring'), 0);
  t.equal(sampleValue(metricsAfter, 'custody_proxy_credentials_rotation_due'), 1);

  // `check` on the original document: the same two keys as warnings, exit 0.
  const doc = credentialsYaml(TENANTS, [EXPIRING, OLD, YOUNG, GONE, PAST_GRACE]);
  const creds = path.join(p.dir, 'credentials.yaml');
  writeFileSync(creds, doc);
  const lineOf = (needle: string): number => doc.split('\n').findIndex((l) => l.includes(needle)) + 1;
  const r = await inProcess(main, ['check', '--config', path.join(p.dir, 'custody-proxy.yaml')]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^ok: /);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  t.same(lines, [
    `warning: credentials[0].expiresAt: key ${EXPIRING.keyId} (tenant tnt_lc) expires ${EXPIRING.expiresAt}, within credentials.expiryWarning (at ${creds}:${lineOf(`expiresAt: ${EXPIRING.expiresAt}`)}:16)`,
    `warning: credentials[1].createdAt: key ${OLD.keyId} (tenant tnt_lc) was created ${OLD.createdAt}, more than credentials.maxAge ago: due for rotation (at ${creds}:${lineOf(`createdAt: ${OLD.createdAt}`)}:16)`,
  ]);
});

// The guide's rotation procedure as one drill (issue 18), with the real CLI editing the credentials file
// of a real proxy process: create a key, rotate it with grace (both keys work), switch clients (the old
// key's lastUsedAt on /admin/credentials goes quiet), revoke the old key (401 within 2 s, the new one
// still works), and the proxy's log holds the audit line of each step.
import t from 'tap';
import path from 'node:path';
import { startUpstream } from '../helpers/recording-upstream.js';
import { spawnProxy } from '../helpers/spawn-proxy.js';
import { runBin } from '../helpers/cli-run.js';
import { request } from '../helpers/http-client.js';
import { waitFor } from '../helpers/waits.js';

/** SPEC §8: a change takes effect within 2 s. */
const TAKES_EFFECT_MS = 2000;
const EMPTY = 'tenants:\n  - id: tnt_drill\n    name: Drill\ncredentials: []\n';
const ADMIN_TOKEN = 'adm_drill_5c0f7e2a9b8d4c3e1f6a7b8c9d0e1f2a';

t.test('create, rotate with grace, both work, revoke the old one: 401 within 2 s, every step audited', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const tokenFile = path.join(t.testdir({ token: `${ADMIN_TOKEN}\n` }), 'token');
  const proxy = await spawnProxy(t, { upstreamUrl: upstream.url, credentialsYaml: EMPTY, config: { admin: { listen: '127.0.0.1:0', tokenFile } } });
  const creds = path.join(proxy.dir, 'credentials.yaml');
  const statusWith = async (token: string): Promise<number> =>
    (await request(proxy.url, { path: '/v1/vaults', headers: [['authorization', `Bearer ${token}`]] })).status;
  // The log pipe may trail the HTTP answer by a moment, so each audit line is awaited briefly.
  const audit = async (change: string, keyId: string): Promise<Record<string, unknown> | undefined> => {
    const find = (): Record<string, unknown> | undefined =>
      proxy.logLines().find((l) => l['msg'] === 'credential change' && l['change'] === change && l['keyId'] === keyId);
    await waitFor(() => find() !== undefined, 1000, `a ${change} audit line for ${keyId}`);
    return find();
  };
  // GET /admin/credentials → lastUsedAt of one key (this replica's last successful authentication).
  const lastUsedAt = async (keyId: string): Promise<string | null | undefined> => {
    const r = await request(proxy.adminUrl, { path: '/admin/credentials', headers: [['Authorization', `Bearer ${ADMIN_TOKEN}`]] });
    return r.json<{ credentials: Array<{ keyId: string; lastUsedAt: string | null }> }>().credentials.find((c) => c.keyId === keyId)?.lastUsedAt;
  };
  const cli = async (...args: string[]): Promise<string> => {
    const r = await runBin(args);
    t.equal(r.code, 0, `custody-proxy ${args.slice(0, 2).join(' ')} exits 0: ${r.stderr}`);
    return r.stdout.trim();
  };

  // 1. Create: the new key works once the proxy has reloaded.
  const oldToken = await cli('keys', 'create', '--file', creds, '--tenant', 'tnt_drill', '--env', 'test', '--label', 'drill');
  const oldId = oldToken.slice(0, oldToken.indexOf(':'));
  await waitFor(async () => (await statusWith(oldToken)) === 200, TAKES_EFFECT_MS, 'the created key works');
  t.match(await audit('added', oldId), { tenant: 'tnt_drill', source: creds, to: 'active' }, 'create is audited as added');

  // 2. Rotate with grace: a new key for the same tenant, and the old one keeps working during the grace.
  const newToken = await cli('keys', 'rotate', oldId, '--file', creds, '--grace', '1h');
  const newId = newToken.slice(0, newToken.indexOf(':'));
  await waitFor(async () => (await statusWith(newToken)) === 200, TAKES_EFFECT_MS, 'the new key works');
  t.equal(await statusWith(oldToken), 200, 'the old key still works during its grace');
  t.match(await audit('added', newId), { tenant: 'tnt_drill', to: 'active' }, 'the new key is audited as added');
  t.match(await audit('rotated', oldId), { tenant: 'tnt_drill', from: 'active', to: 'rotated' }, 'the old key is audited as rotated');

  // 3. Clients switch to the new key: the old key's lastUsedAt stops moving, the new key's moves.
  const oldLastUse = await lastUsedAt(oldId);
  t.ok(typeof oldLastUse === 'string', `the old key was used during the grace (lastUsedAt ${String(oldLastUse)})`);
  await new Promise((resolve) => setTimeout(resolve, 20));
  for (let i = 0; i < 3; i++) t.equal(await statusWith(newToken), 200, 'traffic on the new key');
  t.equal(await lastUsedAt(oldId), oldLastUse, "the old key's lastUsedAt has gone quiet");
  const newLastUse = await lastUsedAt(newId);
  t.ok(typeof newLastUse === 'string' && typeof oldLastUse === 'string' && newLastUse > oldLastUse, `the new key's lastUsedAt moved past it (${String(newLastUse)})`);

  // 4. Revoke the old key: refused within 2 s, the new key unaffected.
  await cli('keys', 'revoke', oldId, '--file', creds);
  const revokedAt = Date.now();
  await waitFor(async () => (await statusWith(oldToken)) === 401, TAKES_EFFECT_MS, 'the revoked key gets 401 within 2 s');
  t.ok(Date.now() - revokedAt <= TAKES_EFFECT_MS, 'revocation took effect within 2 s');
  t.equal(await statusWith(newToken), 200, 'the new key still works');
  t.match(await audit('status', oldId), { tenant: 'tnt_drill', from: 'rotated', to: 'revoked' }, 'the revoke is audited as a status change');

  const out = proxy.stdout() + proxy.stderr();
  for (const token of [oldToken, newToken]) t.notOk(out.includes(token.slice(token.indexOf(':') + 1)), 'no secret in the log');
  t.notMatch(out, /sha256:[0-9a-f]{64}/, 'no hash in the log');
});

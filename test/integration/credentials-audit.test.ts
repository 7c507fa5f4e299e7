// SPEC §8 rev 2 audit, with the real process: its credentials file is edited (a key revoked, one
// re-keyed, one added, one removed, the tenant's allowlist changed) and its log gets exactly one
// "credential change" line per changed item with the file as source, and no hash or secret anywhere.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startUpstream } from '../helpers/recording-upstream.js';
import { spawnProxy } from '../helpers/spawn-proxy.js';
import { credentialsYaml, hashOf, type KeySpec } from '../helpers/credentials.js';
import { waitFor } from '../helpers/waits.js';

const A: KeySpec = { keyId: 'ck_test_audit_a', tenant: 'tnt_audit', secret: 'sk_test_audit_secret_a' };
const B: KeySpec = { keyId: 'ck_test_audit_b', tenant: 'tnt_audit', secret: 'sk_test_audit_secret_b' };
const C: KeySpec = { keyId: 'ck_test_audit_c', tenant: 'tnt_audit', secret: 'sk_test_audit_secret_c' };
const D: KeySpec = { keyId: 'ck_test_audit_d', tenant: 'tnt_audit', secret: 'sk_test_audit_secret_d' };
const B_REKEYED: KeySpec = { ...B, secret: 'sk_test_audit_secret_b_new' };

t.test('an edited credentials file logs one audit line per changed item, never a hash', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const proxy = await spawnProxy(t, {
    upstreamUrl: upstream.url,
    credentialsYaml: credentialsYaml([{ id: 'tnt_audit' }], [A, B, D]),
  });
  const file = path.join(proxy.dir, 'credentials.yaml');
  const changes = (): Array<Record<string, unknown>> => proxy.logLines().filter((l) => l['msg'] === 'credential change');
  t.strictSame(changes(), [], 'the first load is not a change');

  writeFileSync(file, credentialsYaml([{ id: 'tnt_audit', ipAllowList: ['127.0.0.1/32'] }], [{ ...A, status: 'revoked' }, B_REKEYED, C]));
  await waitFor(() => changes().length >= 5, 2000, 'five audit lines within 2 s');

  const seen = changes().map(({ change, tenant, keyId, fields, from, to, source, level }) => ({ change, tenant, keyId, fields, from, to, source, level }));
  const line = (o: Record<string, unknown>): Record<string, unknown> => ({ fields: undefined, from: undefined, to: undefined, keyId: undefined, source: file, level: 'info', ...o });
  t.strictSame(seen, [
    line({ change: 'allowlist', tenant: 'tnt_audit', fields: ['ipAllowList'] }),
    line({ change: 'status', tenant: 'tnt_audit', keyId: A.keyId, fields: ['status'], from: 'active', to: 'revoked' }),
    line({ change: 'rotated', tenant: 'tnt_audit', keyId: B.keyId, fields: ['secretHash'] }),
    line({ change: 'added', tenant: 'tnt_audit', keyId: C.keyId, to: 'active' }),
    line({ change: 'removed', tenant: 'tnt_audit', keyId: D.keyId, from: 'active' }),
  ]);
  const out = proxy.stdout() + proxy.stderr();
  for (const secret of [B.secret, B_REKEYED.secret, C.secret]) {
    t.notOk(out.includes(secret), 'no secret in the log');
    t.notOk(out.includes(hashOf(secret).slice('sha256:'.length)), 'no hash in the log');
  }
});

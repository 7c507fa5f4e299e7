// Unit tests of the authenticate stage on a proxy pinned to an environment (SPEC §5 rev 2): `live`
// refuses ck_test_ ids, `test` refuses ck_live_ ids, both refuse ids with neither prefix, all with
// reason `environment`, known or unknown id, right or wrong secret, before the secret is hashed; the
// id is logged only when the document holds it. Keys of the proxy's own environment go through the
// usual checks (unknown_key and bad_secret stay apart only in logs, both hashed). `any` is authenticate.
import t, { type Test } from 'tap';
import { authenticate, authenticateIn, type AuthFailure } from '../../../src/stages/authenticate.js';
import * as secretHash from '../../../src/credentials/secret-hash.js';
import { ProxyError } from '../../../src/errors.js';
import type { RequestContext } from '../../../src/pipeline/context.js';
import { fakeContext, snapshotOf } from '../../helpers/fake-context.js';

const snapshot = snapshotOf(
  [{ id: 'tnt_a' }],
  [
    { keyId: 'ck_live_a1', tenant: 'tnt_a', secret: 'sk_live_a1' },
    { keyId: 'ck_test_a1', tenant: 'tnt_a', secret: 'sk_test_a1' },
    { keyId: 'ck_legacy', tenant: 'tnt_a', secret: 'sk_legacy' },
  ],
);

type Stage = (ctx: RequestContext) => void;

/** The reason `stage` refused `keyId:secret` with (undefined: accepted), and the context after it. */
function run(stage: Stage, keyId: string, secret: string): { reason: AuthFailure | undefined; ctx: RequestContext } {
  const ctx = fakeContext({ headers: [['Host', 'proxy.test'], ['Authorization', `Bearer ${keyId}:${secret}`]], snapshot });
  try {
    stage(ctx);
  } catch (err) {
    if (!(err instanceof ProxyError) || err.code !== 'UNAUTHORIZED' || err.status !== 401) throw err;
    return { reason: err.reason as AuthFailure, ctx };
  }
  return { reason: undefined, ctx };
}

function expectEnvironment(t: Test, stage: Stage, keyId: string, secret: string, known: boolean): void {
  const { reason, ctx } = run(stage, keyId, secret);
  t.equal(reason, 'environment', `${keyId}:${secret}: reason environment`);
  t.equal(ctx.credential, undefined, `${keyId}: no credential on the context`);
  t.equal(ctx.knownKeyId, known ? keyId : undefined, known ? `${keyId}: logged (the document holds it)` : `${keyId}: not logged (unknown)`);
}

t.test('live refuses ck_test_ and unprefixed ids, whatever the secret, and accepts ck_live_', async (t) => {
  const live = authenticateIn('live');
  expectEnvironment(t, live, 'ck_test_a1', 'sk_test_a1', true);
  expectEnvironment(t, live, 'ck_test_a1', 'wrong', true);
  expectEnvironment(t, live, 'ck_test_nosuch', 'x', false);
  expectEnvironment(t, live, 'ck_legacy', 'sk_legacy', true);
  expectEnvironment(t, live, 'CK_LIVE_a1', 'sk_live_a1', false);
  const ok = run(live, 'ck_live_a1', 'sk_live_a1');
  t.equal(ok.reason, undefined, 'ck_live_ with its secret: accepted');
  t.equal(ok.ctx.credential?.keyId, 'ck_live_a1');
  t.equal(run(live, 'ck_live_a1', 'wrong').reason, 'bad_secret', 'its own environment: the usual checks');
  t.equal(run(live, 'ck_live_nosuch', 'x').reason, 'unknown_key');
});

t.test('test refuses ck_live_ and unprefixed ids, and accepts ck_test_', async (t) => {
  const test = authenticateIn('test');
  expectEnvironment(t, test, 'ck_live_a1', 'sk_live_a1', true);
  expectEnvironment(t, test, 'ck_live_nosuch', 'x', false);
  expectEnvironment(t, test, 'ck_legacy', 'sk_legacy', true);
  t.equal(run(test, 'ck_test_a1', 'sk_test_a1').reason, undefined, 'ck_test_ accepted');
  t.equal(run(test, 'ck_test_a1', 'wrong').reason, 'bad_secret');
});

t.test('any is the plain stage: every prefix, and none, accepted', async (t) => {
  t.equal(authenticateIn('any'), authenticate, 'no extra check on the request path');
  for (const [id, secret] of [['ck_live_a1', 'sk_live_a1'], ['ck_test_a1', 'sk_test_a1'], ['ck_legacy', 'sk_legacy']] as const) {
    t.equal(run(authenticate, id, secret).reason, undefined, `${id} accepted`);
  }
});

t.test('the header checks still come first; the environment is refused before the secret is hashed', async (t) => {
  t.equal(run(authenticateIn('live'), 'ck_test_a1', '').reason, 'malformed', 'a malformed token is malformed, whatever its id');
  let hashed = 0;
  const mod = await t.mockImport<typeof import('../../../src/stages/authenticate.js')>('../../../src/stages/authenticate.js', {
    '../../../src/credentials/secret-hash.js': {
      ...secretHash,
      secretMatches: (presented: string, stored: Buffer | undefined): boolean => {
        hashed++;
        return secretHash.secretMatches(presented, stored);
      },
    },
  });
  const live = mod.authenticateIn('live');
  t.equal(run(live, 'ck_test_a1', 'sk_test_a1').reason, 'environment');
  t.equal(hashed, 0, 'no hash for a key of the other environment');
  t.equal(run(live, 'ck_live_nosuch', 'x').reason, 'unknown_key');
  t.equal(run(live, 'ck_live_a1', 'wrong').reason, 'bad_secret');
  t.equal(hashed, 2, 'unknown id and wrong secret of this environment are both hashed, as before');
});

// Unit tests of the authenticate stage (SPEC §5): the log/metrics reason of each rejection, the
// lifecycle boundaries (graceUntil, expiresAt are exclusive), the credential left on the context,
// and that an unknown key id still runs the constant-time compare (against a dummy digest).
// Contexts are built by test/helpers/fake-context.ts (createContext on a request with these exact lines).
import t, { type Test } from 'tap';
import type { RequestContext } from '../../../src/pipeline/context.js';
import { authenticate, lifecycleFailure, type AuthFailure } from '../../../src/stages/authenticate.js';
import { ProxyError } from '../../../src/errors.js';
import type { Credential, CredentialsSnapshot } from '../../../src/credentials/snapshot.js';
import * as secretHash from '../../../src/credentials/secret-hash.js';
import { isUsable } from '../../../src/credentials/effective-status.js';
import fc from 'fast-check';
import type { KeySpec } from '../../helpers/credentials.js';
import { fakeContext, snapshotOf, type HeaderLine } from '../../helpers/fake-context.js';

const HOUR = 3_600_000;
const iso = (offsetMs: number): string => new Date(Date.now() + offsetMs).toISOString();

const keys: KeySpec[] = [
  { keyId: 'ck_active', tenant: 'tnt_a', secret: 's_active' },
  { keyId: 'ck_colon', tenant: 'tnt_a', secret: 'a:b:c' },
  { keyId: 'ck_prov', tenant: 'tnt_a', secret: 's_prov', status: 'provisioned' },
  { keyId: 'ck_revoked', tenant: 'tnt_a', secret: 's_revoked', status: 'revoked' },
  { keyId: 'ck_rot_ok', tenant: 'tnt_a', secret: 's_rot_ok', status: 'rotated', graceUntil: iso(HOUR) },
  { keyId: 'ck_rot_over', tenant: 'tnt_a', secret: 's_rot_over', status: 'rotated', graceUntil: iso(-HOUR) },
  { keyId: 'ck_expired', tenant: 'tnt_a', secret: 's_expired', expiresAt: iso(-HOUR) },
  { keyId: 'ck_expires_later', tenant: 'tnt_a', secret: 's_later', expiresAt: iso(HOUR) },
];

const snapshot = snapshotOf([{ id: 'tnt_a' }], keys);

type Outcome = { ok: true; ctx: RequestContext } | { ok: false; error: unknown; ctx: RequestContext };
type Authenticate = (ctx: RequestContext) => void;

/** Runs `auth` on the context of a request with a Host line and exactly these further header lines. */
function run(
  headerLines: ReadonlyArray<HeaderLine>,
  /** null: no document loaded */
  snap: CredentialsSnapshot | null = snapshot,
  auth: Authenticate = authenticate,
): Outcome {
  const ctx = fakeContext({ headers: [['Host', 'proxy.test'], ...headerLines], snapshot: snap ?? undefined });
  try {
    auth(ctx);
    return { ok: true, ctx };
  } catch (error) {
    return { ok: false, error, ctx };
  }
}

function expectRejected(t: Test, o: Outcome, reason: AuthFailure, what: string): void {
  t.equal(o.ok, false, `${what}: rejected`);
  if (o.ok) return;
  t.ok(o.error instanceof ProxyError, `${what}: a ProxyError`);
  if (!(o.error instanceof ProxyError)) return;
  t.equal(o.error.code, 'UNAUTHORIZED', `${what}: UNAUTHORIZED`);
  t.equal(o.error.status, 401, `${what}: 401`);
  t.equal(o.error.reason, reason, `${what}: reason ${reason}`);
  t.equal(o.ctx.credential, undefined, `${what}: no credential on the context`);
}

const auth = (keyId: string, secret: string): Array<[string, string]> => [['Authorization', `Bearer ${keyId}:${secret}`]];

t.test('header count and syntax', async (t) => {
  expectRejected(t, run([]), 'missing', 'no header');
  expectRejected(t, run([...auth('ck_active', 's_active'), ...auth('ck_active', 's_active')]), 'duplicate', 'two valid lines');
  expectRejected(t, run([['Authorization', 'Bearer x:y'], ['AUTHORIZATION', 'Bearer x:y']]), 'duplicate', 'two lines, other case');
  for (const value of ['Basic ck_active:s_active', 'ck_active:s_active', 'Bearer', 'Bearer ', 'Bearerck_active:s_active', 'Bearer\tck_active:s_active', 'Bearer_ck_active:s_active', 'Bearers ck_active:s_active', 'Beare ck_active:s_active', 'Bearer ck_actives_active', 'Bearer :s_active', 'Bearer ck_active:', '']) {
    expectRejected(t, run([['Authorization', value]]), 'malformed', JSON.stringify(value));
  }
});

t.test('scheme case and the first-colon split', async (t) => {
  // the scheme in any case, then one or more spaces
  for (const scheme of ['Bearer ', 'bearer ', 'BEARER ', 'bEaReR ', 'Bearer  ', 'BEARER    ']) {
    const o = run([['Authorization', `${scheme}ck_active:s_active`]]);
    t.equal(o.ok, true, `${scheme} accepted`);
    t.equal(o.ctx.credential?.keyId, 'ck_active', `${scheme}: credential set`);
    t.equal(o.ctx.credential?.tenant.id, 'tnt_a', `${scheme}: tenant resolved`);
  }
  const colon = run(auth('ck_colon', 'a:b:c'));
  t.equal(colon.ok, true, 'secret containing colons');
  t.equal(colon.ctx.credential?.keyId, 'ck_colon');
  expectRejected(t, run(auth('ck_colon', 'a:b')), 'bad_secret', 'secret cut short');
});

t.test('unknown key, wrong secret, lifecycle', async (t) => {
  expectRejected(t, run(auth('ck_nosuch', 's_active')), 'unknown_key', 'unknown key');
  expectRejected(t, run(auth('ck_active', 's_wrong')), 'bad_secret', 'wrong secret');
  expectRejected(t, run(auth('ck_prov', 's_prov')), 'provisioned', 'provisioned');
  expectRejected(t, run(auth('ck_revoked', 's_revoked')), 'revoked', 'revoked');
  expectRejected(t, run(auth('ck_rot_over', 's_rot_over')), 'grace_expired', 'rotated after grace');
  expectRejected(t, run(auth('ck_expired', 's_expired')), 'expired', 'expired');
  // a wrong secret never reveals the lifecycle state
  expectRejected(t, run(auth('ck_revoked', 'nope')), 'bad_secret', 'revoked key, wrong secret');
  for (const [keyId, secret] of [['ck_active', 's_active'], ['ck_rot_ok', 's_rot_ok'], ['ck_expires_later', 's_later']] as const) {
    const o = run(auth(keyId, secret));
    t.equal(o.ok, true, `${keyId} accepted`);
    t.equal(o.ctx.credential?.keyId, keyId, `${keyId} on the context`);
  }
  expectRejected(t, run(auth('ck_active', 's_active'), null), 'no_credentials', 'no snapshot loaded');
});

t.test('lifecycleFailure boundaries: graceUntil and expiresAt are exclusive', async (t) => {
  const base = snapshot.byKeyId.get('ck_active');
  t.ok(base);
  if (!base) return;
  const at = 1_800_000_000_000;
  const c = (over: Partial<Credential>): Credential => ({ ...base, ...over });
  t.equal(lifecycleFailure(c({ status: 'active' }), at), undefined, 'active');
  t.equal(lifecycleFailure(c({ status: 'provisioned' }), at), 'provisioned');
  t.equal(lifecycleFailure(c({ status: 'revoked' }), at), 'revoked');
  t.equal(lifecycleFailure(c({ status: 'rotated', graceUntil: at + 1 }), at), undefined, 'rotated, 1 ms of grace left');
  t.equal(lifecycleFailure(c({ status: 'rotated', graceUntil: at }), at), 'grace_expired', 'rotated, now == graceUntil');
  t.equal(lifecycleFailure(c({ status: 'rotated', graceUntil: undefined }), at), 'grace_expired', 'rotated without graceUntil');
  t.equal(lifecycleFailure(c({ status: 'active', expiresAt: at + 1 }), at), undefined, 'expires in 1 ms');
  t.equal(lifecycleFailure(c({ status: 'active', expiresAt: at }), at), 'expired', 'now == expiresAt');
  t.equal(lifecycleFailure(c({ status: 'rotated', graceUntil: at + HOUR, expiresAt: at - 1 }), at), 'expired', 'in grace but expired');
});

// The request path keeps its own switch (granular reasons, no allocation); /admin/credentials and
// `keys list` use effective-status.ts. They must agree on which keys work, whatever the dates.
t.test('lifecycleFailure accepts exactly the keys isUsable calls usable', async (t) => {
  const base = snapshot.byKeyId.get('ck_active');
  if (!base) throw new Error('fixture key missing');
  const at = 1_800_000_000_000;
  const offset = fc.option(fc.integer({ min: -2, max: 2 }), { nil: undefined });
  const status = fc.constantFrom('provisioned', 'active', 'rotated', 'revoked') as fc.Arbitrary<Credential['status']>;
  let disagreements = 0;
  fc.assert(
    fc.property(status, offset, offset, (st, grace, expires) => {
      const c: Credential = { ...base, status: st, graceUntil: grace === undefined ? undefined : at + grace, expiresAt: expires === undefined ? undefined : at + expires };
      const same = (lifecycleFailure(c, at) === undefined) === isUsable(c, at);
      if (!same) disagreements++;
      return same;
    }),
    { numRuns: 500 },
  );
  t.equal(disagreements, 0);
});

t.test('an unknown key id is still compared in constant time against a dummy digest', async (t) => {
  const calls: Array<{ presented: string; stored: Buffer | undefined }> = [];
  const mod = await t.mockImport<typeof import('../../../src/stages/authenticate.js')>('../../../src/stages/authenticate.js', {
    '../../../src/credentials/secret-hash.js': {
      ...secretHash,
      secretMatches: (presented: string, stored: Buffer | undefined): boolean => {
        calls.push({ presented, stored });
        return secretHash.secretMatches(presented, stored);
      },
    },
  });
  expectRejected(t, run(auth('ck_nosuch', 'presented_secret'), snapshot, mod.authenticate), 'unknown_key', 'unknown key (mocked)');
  t.equal(calls.length, 1, 'secretMatches ran once for the unknown key');
  t.equal(calls[0]?.presented, 'presented_secret');
  t.equal(calls[0]?.stored, undefined, 'with no stored digest (the dummy stands in)');
  calls.length = 0;
  expectRejected(t, run(auth('ck_active', 'wrong'), snapshot, mod.authenticate), 'bad_secret', 'wrong secret (mocked)');
  t.equal(calls.length, 1, 'secretMatches ran once for the known key');
  t.ok(calls[0]?.stored?.equals(snapshot.byKeyId.get('ck_active')?.digest ?? Buffer.alloc(0)), 'against the stored digest');
  // and the real compare never matches without a stored digest
  t.equal(secretHash.secretMatches('', undefined), false);
  t.equal(secretHash.secretMatches('anything', undefined), false);
});

// Unit tests of the check-permissions stage (SPEC §4, §6): a credential without rules may use every
// method and path; with rules, the request method and the canonical path (ctx.path, set by check-target,
// not req.url) must match one rule: `*` one non-empty segment, `**` one or more further segments,
// methods compared exactly (`*` = any). A refusal is 403 FORBIDDEN reason permission.
import t from 'tap';
import { checkPermissions } from '../../../src/stages/check-permissions.js';
import { fakeContext, refusal, snapshotOf } from '../../helpers/fake-context.js';

const snapshot = snapshotOf(
  [{ id: 'tnt_a' }],
  [
    { keyId: 'ck_all', tenant: 'tnt_a', secret: 's' },
    { keyId: 'ck_read', tenant: 'tnt_a', secret: 's', permissions: [{ methods: ['GET', 'HEAD'], paths: ['/v1/vaults', '/v1/vaults/*'] }] },
    { keyId: 'ck_any_method', tenant: 'tnt_a', secret: 's', permissions: [{ methods: ['*'], paths: ['/v1/**'] }] },
    {
      keyId: 'ck_two_rules',
      tenant: 'tnt_a',
      secret: 's',
      permissions: [
        { methods: ['GET'], paths: ['/v1/vaults/*/keys'] },
        { methods: ['POST', 'DELETE'], paths: ['/v1/transfers', '/v1/transfers/**'] },
      ],
    },
  ],
);

const DENIED = { code: 'FORBIDDEN', reason: 'permission', status: 403 };

/** The refusal for `keyId` sending `method` with ctx.path = `path` (undefined: allowed). */
function check(keyId: string | undefined, method: string, path: string): ReturnType<typeof refusal> {
  const ctx = fakeContext({ snapshot, method, url: path, ...(keyId === undefined ? {} : { authenticatedAs: keyId }) });
  ctx.path = path;
  return refusal(() => checkPermissions(ctx));
}

t.test('no rules: every method and path', async (t) => {
  for (const [method, path] of [['GET', '/'], ['DELETE', '/v1/vaults/v1'], ['PATCH', '/anything/at/all']] as const) {
    t.equal(check('ck_all', method, path), undefined, `${method} ${path}`);
  }
  t.equal(check(undefined, 'DELETE', '/x'), undefined, 'no credential on the context: nothing to check');
});

t.test('exact paths and one-segment `*`', async (t) => {
  for (const [method, path] of [['GET', '/v1/vaults'], ['HEAD', '/v1/vaults'], ['GET', '/v1/vaults/v_1']] as const) {
    t.equal(check('ck_read', method, path), undefined, `${method} ${path} allowed`);
  }
  for (const [method, path] of [
    ['POST', '/v1/vaults'],
    ['DELETE', '/v1/vaults/v_1'],
    ['get', '/v1/vaults'],
    ['GET', '/v1/vaults/v_1/keys'],
    ['GET', '/v1/vaults/'],
    ['GET', '/v1/vault'],
    ['GET', '/v1'],
    ['GET', '/v2/vaults'],
  ] as const) {
    t.strictSame(check('ck_read', method, path), DENIED, `${method} ${path} denied`);
  }
});

t.test('`**` and any method', async (t) => {
  // a trailing `/` is a further (empty) segment: `/v1/` is under `/v1/**`, `/v1` is not
  for (const [method, path] of [['GET', '/v1/a'], ['DELETE', '/v1/a/b/c'], ['PURGE', '/v1/x/'], ['GET', '/v1/']] as const) {
    t.equal(check('ck_any_method', method, path), undefined, `${method} ${path} allowed`);
  }
  for (const path of ['/v1', '/v2/a', '/v10/a', '/']) {
    t.strictSame(check('ck_any_method', 'GET', path), DENIED, `GET ${path} denied`);
  }
});

t.test('several rules: one must match method and path together', async (t) => {
  t.equal(check('ck_two_rules', 'GET', '/v1/vaults/v_1/keys'), undefined, 'first rule');
  t.equal(check('ck_two_rules', 'POST', '/v1/transfers'), undefined, 'second rule, exact path');
  t.equal(check('ck_two_rules', 'DELETE', '/v1/transfers/t_1/legs/2'), undefined, 'second rule, **');
  t.strictSame(check('ck_two_rules', 'POST', '/v1/vaults/v_1/keys'), DENIED, "first rule's path with the second rule's method");
  t.strictSame(check('ck_two_rules', 'GET', '/v1/transfers'), DENIED, "second rule's path with the first rule's method");
});

t.test('the canonical path on the context is checked, not req.url', async (t) => {
  const ctx = fakeContext({ snapshot, authenticatedAs: 'ck_read', url: '/v1/admin' });
  ctx.path = '/v1/vaults';
  t.equal(refusal(() => checkPermissions(ctx)), undefined, 'ctx.path allowed although req.url is not');
  const other = fakeContext({ snapshot, authenticatedAs: 'ck_read', url: '/v1/vaults' });
  other.path = '/v1/admin';
  t.strictSame(refusal(() => checkPermissions(other)), DENIED, 'ctx.path denied although req.url is allowed');
});

t.test('a report-only tenant: the denial is noted on the context, the request proceeds', async (t) => {
  const rules = [{ methods: ['GET'], paths: ['/v1/vaults'] }];
  const s = snapshotOf(
    [{ id: 'tnt_report', reportOnly: true }, { id: 'tnt_enforce', reportOnly: false }],
    [
      { keyId: 'ck_report', tenant: 'tnt_report', secret: 's', permissions: rules },
      { keyId: 'ck_enforce', tenant: 'tnt_enforce', secret: 's', permissions: rules },
    ],
  );
  const run = (keyId: string, method: string, path: string) => {
    const ctx = fakeContext({ snapshot: s, method, url: path, authenticatedAs: keyId });
    ctx.path = path;
    return { refused: refusal(() => checkPermissions(ctx)), noted: ctx.reportOnly };
  };
  t.strictSame(run('ck_report', 'DELETE', '/v1/vaults'), { refused: undefined, noted: [{ check: 'permission', reason: 'permission' }] }, 'denied: noted, not refused');
  t.strictSame(run('ck_report', 'GET', '/v1/vaults'), { refused: undefined, noted: undefined }, 'permitted: nothing noted');
  t.strictSame(run('ck_enforce', 'DELETE', '/v1/vaults'), { refused: DENIED, noted: undefined }, 'reportOnly: false enforces');
  t.strictSame(run('ck_enforce', 'GET', '/v1/vaults'), { refused: undefined, noted: undefined }, 'reportOnly: false, permitted');
});

// Credentials document validation (SPEC §4) via parseCredentials: a valid document compiles into the
// snapshot maps; unknown keys, duplicate ids, missing tenants, rotated without graceUntil, bad
// secretHash, allowlist entries, timestamps and permission patterns are rejected, every problem of a
// document listed at once as `path: message`.
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import { parseCredentials } from '../../../src/credentials/document-load.js';
import { parseIp } from '../../../src/net/ip-match.js';
import type { CredentialsSnapshot } from '../../../src/credentials/snapshot.js';

const hex = (secret: string): string => createHash('sha256').update(secret, 'utf8').digest('hex');
const HASH = `sha256:${hex('sk_test_secret')}`;

type Doc = Record<string, unknown>;

const cred = (over: Doc = {}): Doc => ({ keyId: 'ck_test_a', tenant: 'tnt_a', status: 'active', secretHash: HASH, ...over });
const doc = (over: Doc = {}): Doc => ({ tenants: [{ id: 'tnt_a' }], credentials: [cred()], ...over });

function accepted(t: Test, text: string): CredentialsSnapshot | undefined {
  const r = parseCredentials(text);
  if (!r.ok) {
    t.fail(`rejected a valid document: ${JSON.stringify(r.problems)}`);
    return undefined;
  }
  t.pass('accepted');
  return r.snapshot;
}

function problemsOf(t: Test, text: string): readonly string[] {
  const r = parseCredentials(text);
  if (r.ok) {
    t.fail(`accepted an invalid document:\n${text}`);
    return [];
  }
  t.ok(r.problems.length > 0, 'rejected with problems');
  return r.problems;
}

/** Exactly one problem at `at`; returns its line. */
function problemAt(t: Test, problems: readonly string[], at: string, msg?: string): string {
  const lines = problems.filter((p) => p.startsWith(`${at}: `));
  t.equal(lines.length, 1, msg ?? `one problem at ${at} in ${JSON.stringify(problems)}`);
  return lines[0] ?? '';
}

const SPEC_EXAMPLE = `
tenants:
  - id: tnt_secure_corp
    name: Secure Corp
    ipAllowList: ["203.0.113.0/24", "198.51.100.42/32", "2001:db8:1::/48"]
  - id: tnt_open
    ipAllowList: null
  - id: tnt_empty
    ipAllowList: []
credentials:
  - keyId: ck_live_abc123
    tenant: tnt_secure_corp
    status: active
    secretHash: "${HASH}"
    expiresAt: 2027-06-01T00:00:00Z
    label: payments-prod
    permissions:
      - methods: [GET]
        paths: ["/v1/vaults", "/v1/vaults/*", "/v1/reports/**"]
  - keyId: ck_live_old
    tenant: tnt_secure_corp
    status: rotated
    secretHash: "sha256:${hex('old')}"
    graceUntil: 2026-12-01T00:00:00Z
  - keyId: ck_test_new
    tenant: tnt_open
    status: provisioned
    secretHash: "sha256:${hex('new')}"
  - keyId: ck_test_gone
    tenant: tnt_empty
    status: revoked
    secretHash: "sha256:${hex('gone')}"
`;

t.test('a valid document compiles into the snapshot maps', async (t) => {
  const s = accepted(t, SPEC_EXAMPLE);
  if (!s) return;
  t.same([...s.tenants.keys()].sort(), ['tnt_empty', 'tnt_open', 'tnt_secure_corp']);
  t.same([...s.byKeyId.keys()].sort(), ['ck_live_abc123', 'ck_live_old', 'ck_test_gone', 'ck_test_new']);
  const a = s.byKeyId.get('ck_live_abc123');
  t.ok(a);
  if (!a) return;
  t.equal(a.status, 'active');
  t.equal(a.tenant, s.tenants.get('tnt_secure_corp'), 'the credential points at its tenant');
  t.equal(a.tenant.name, 'Secure Corp');
  t.equal(a.label, 'payments-prod');
  t.equal(a.expiresAt, Date.parse('2027-06-01T00:00:00Z'));
  t.equal(a.graceUntil, undefined);
  t.equal(a.digest.toString('hex'), hex('sk_test_secret'), 'digest = the 32 bytes of the hex');
  t.equal(a.permissions?.length, 1);
  t.equal(s.byKeyId.get('ck_live_old')?.graceUntil, Date.parse('2026-12-01T00:00:00Z'));
  t.equal(s.byKeyId.get('ck_test_new')?.permissions, undefined, 'absent permissions = everything');
  t.same(s.countsByStatus, { provisioned: 1, active: 1, rotated: 1, revoked: 1 });

  const secure = s.tenants.get('tnt_secure_corp')?.allowList;
  t.ok(secure, 'non-empty allowlist compiled');
  const ip = (text: string) => {
    const p = parseIp(text);
    if (!p) throw new Error(`test bug: ${text}`);
    return p;
  };
  t.equal(secure?.contains(ip('203.0.113.77')), true);
  t.equal(secure?.contains(ip('198.51.100.42')), true);
  t.equal(secure?.contains(ip('198.51.100.43')), false);
  t.equal(secure?.contains(ip('2001:db8:1:ffff::1')), true);
  t.equal(secure?.contains(ip('2001:db8:2::1')), false);
  t.equal(s.tenants.get('tnt_open')?.allowList, undefined, 'null allowlist = every IP');
  t.equal(s.tenants.get('tnt_empty')?.allowList, undefined, 'empty allowlist = every IP');
  t.ok(Object.isFrozen(s), 'the snapshot is frozen');
  t.ok(Object.isFrozen(a), 'credentials are frozen');
});

t.test('the same text gives the same version; other text another', async (t) => {
  const a = accepted(t, SPEC_EXAMPLE);
  const b = accepted(t, SPEC_EXAMPLE);
  const c = accepted(t, `${SPEC_EXAMPLE}\n# comment\n`);
  t.equal(a?.version, b?.version);
  t.not(a?.version, c?.version);
});

t.test('JSON documents are accepted too (control endpoint)', async (t) => {
  const s = accepted(t, JSON.stringify(doc()));
  t.equal(s?.byKeyId.get('ck_test_a')?.tenant.id, 'tnt_a');
});

t.test('an empty document is a problem', async (t) => {
  for (const text of ['', '   \n', '# only a comment\n', 'null', '~']) {
    const r = parseCredentials(text);
    t.equal(r.ok, false, `empty: ${JSON.stringify(text)}`);
    if (!r.ok) t.match(r.problems[0], /empty/);
  }
  t.equal(parseCredentials('[]').ok, false, 'an array is not a document');
  const missing = problemsOf(t, '{}');
  problemAt(t, missing, 'tenants');
  problemAt(t, missing, 'credentials');
});

t.test('an empty but well-formed document is valid (no credentials)', async (t) => {
  const s = accepted(t, 'tenants: []\ncredentials: []\n');
  t.equal(s?.byKeyId.size, 0);
});

t.test('unknown keys are rejected at every level', async (t) => {
  const top = problemsOf(t, stringify(doc({ tenant: [] })));
  t.same(top, ['tenant: unknown key']);
  const tenant = problemsOf(t, stringify(doc({ tenants: [{ id: 'tnt_a', allowList: [] }] })));
  t.same(tenant, ['tenants[0].allowList: unknown key']);
  const credential = problemsOf(t, stringify(doc({ credentials: [cred({ secret: 'plain' })] })));
  t.same(credential, ['credentials[0].secret: unknown key']);
  const rule = problemsOf(t, stringify(doc({ credentials: [cred({ permissions: [{ methods: ['GET'], paths: ['/v1'], hosts: ['x'] }] })] })));
  t.same(rule, ['credentials[0].permissions[0].hosts: unknown key']);
});

t.test('duplicate tenant ids and key ids', async (t) => {
  const tenants = problemsOf(t, stringify(doc({ tenants: [{ id: 'tnt_a' }, { id: 'tnt_b' }, { id: 'tnt_a' }] })));
  t.match(problemAt(t, tenants, 'tenants[2].id'), /duplicate.*tnt_a/);
  t.equal(tenants.length, 1, JSON.stringify(tenants));
  const keys = problemsOf(t, stringify(doc({ credentials: [cred(), cred({ secretHash: `sha256:${hex('other')}` })] })));
  t.match(problemAt(t, keys, 'credentials[1].keyId'), /duplicate.*ck_test_a/);
  t.equal(keys.length, 1, JSON.stringify(keys));
});

t.test('a credential naming a missing tenant', async (t) => {
  const p = problemsOf(t, stringify(doc({ credentials: [cred(), cred({ keyId: 'ck_test_b', tenant: 'tnt_nope' })] })));
  t.match(problemAt(t, p, 'credentials[1].tenant'), 'tnt_nope');
  t.equal(p.length, 1);
});

t.test('rotated needs graceUntil', async (t) => {
  const p = problemsOf(t, stringify(doc({ credentials: [cred({ status: 'rotated' })] })));
  t.same(p.length, 1);
  t.match(p[0], /^credentials\[0\](\.graceUntil)?: .*rotated/);
  accepted(t, stringify(doc({ credentials: [cred({ status: 'rotated', graceUntil: '2026-12-01T00:00:00Z' })] })));
  accepted(t, stringify(doc({ credentials: [cred({ status: 'revoked' })] })));
  accepted(t, stringify(doc({ credentials: [cred({ status: 'provisioned', expiresAt: '2027-06-01T00:00:00Z' })] })));
  problemAt(t, problemsOf(t, stringify(doc({ credentials: [cred({ status: 'disabled' })] }))), 'credentials[0].status');
});

t.test('secretHash must be sha256: and 64 lowercase hex digits', async (t) => {
  const good = hex('x');
  for (const [label, value] of [
    ['uppercase hex', `sha256:${good.toUpperCase()}`],
    ['63 digits', `sha256:${good.slice(1)}`],
    ['65 digits', `sha256:${good}0`],
    ['no prefix', good],
    ['other algorithm', `sha512:${good}`],
    ['non-hex', `sha256:${'g'.repeat(64)}`],
    ['prefix case', `SHA256:${good}`],
    ['the secret itself', 'sk_test_secret'],
  ] as const) {
    problemAt(t, problemsOf(t, stringify(doc({ credentials: [cred({ secretHash: value })] }))), 'credentials[0].secretHash', label);
  }
});

t.test('allowlist entries: strict IPv4/IPv6 addresses and CIDRs', async (t) => {
  const bad = ['010.0.0.1', '1.2.3', '256.1.1.1', '1.2.3.4/33', '::1/129', 'fe80::1%eth0', 'hello', '1.2.3.4/', '10.0.0.0/08', ''];
  const p = problemsOf(t, stringify(doc({ tenants: [{ id: 'tnt_a', ipAllowList: bad }] })));
  bad.forEach((entry, i) => {
    const line = problemAt(t, p, `tenants[0].ipAllowList[${i}]`, `rejects ${JSON.stringify(entry)}`);
    if (entry) t.match(line, entry, `names ${entry}`);
  });
  t.equal(p.length, bad.length, 'every bad entry, nothing else');
  const good = ['203.0.113.0/24', '198.51.100.42/32', '2001:db8:1::/48', '::1', '1.2.3.4', '0.0.0.0/0', '::/0', '::ffff:10.0.0.0/104'];
  const s = accepted(t, stringify(doc({ tenants: [{ id: 'tnt_a', ipAllowList: good }] })));
  t.ok(s?.tenants.get('tnt_a')?.allowList, 'compiled');
  problemAt(t, problemsOf(t, stringify(doc({ tenants: [{ id: 'tnt_a', ipAllowList: '10.0.0.0/8' }] }))), 'tenants[0].ipAllowList', 'a string is not a list');
});

t.test("a credential's own ipAllowList (rev 2): validated like the tenant's, compiled once", async (t) => {
  const bad = ['010.0.0.1', '1.2.3', '203.0.113.0/33', 'fe80::1%eth0', 'nope'];
  const p = problemsOf(t, stringify(doc({ credentials: [cred({ ipAllowList: ['203.0.113.7', ...bad] })] })));
  bad.forEach((entry, i) => {
    const line = problemAt(t, p, `credentials[0].ipAllowList[${i + 1}]`, `rejects ${JSON.stringify(entry)}`);
    t.match(line, JSON.stringify(entry), `names the value ${JSON.stringify(entry)}`);
  });
  t.equal(p.length, bad.length, 'every bad entry, nothing else');
  problemAt(t, problemsOf(t, stringify(doc({ credentials: [cred({ ipAllowList: '203.0.113.7' })] }))), 'credentials[0].ipAllowList', 'a string is not a list');
  const s = accepted(t, stringify(doc({ credentials: [cred({ ipAllowList: ['203.0.113.7', '2001:db8::/32'] })] })));
  const own = s?.byKeyId.get('ck_test_a')?.allowList;
  const addr = parseIp('203.0.113.7');
  t.ok(own && addr && own.contains(addr), 'compiled into a matcher');
  for (const list of [null, []]) {
    const none = accepted(t, stringify(doc({ credentials: [cred({ ipAllowList: list })] })));
    t.equal(none?.byKeyId.get('ck_test_a')?.allowList, undefined, `${JSON.stringify(list)}: no list to check`);
  }
});

t.test('a tenant\'s reportOnly (rev 2): a boolean, false when absent', async (t) => {
  const s = accepted(t, stringify(doc({ tenants: [{ id: 'tnt_a', reportOnly: true }, { id: 'tnt_b', reportOnly: false }, { id: 'tnt_c' }] })));
  t.strictSame(['tnt_a', 'tnt_b', 'tnt_c'].map((id) => s?.tenants.get(id)?.reportOnly), [true, false, false]);
  const line = problemAt(t, problemsOf(t, stringify(doc({ tenants: [{ id: 'tnt_a', reportOnly: 'yes' }] }))), 'tenants[0].reportOnly');
  t.match(line, /boolean/, 'says a boolean is expected');
});

t.test('timestamps', async (t) => {
  for (const v of ['2026-12-01T00:00:00Z', '2026-12-01T00:00:00.250+02:00', '2026-12-01']) {
    const s = accepted(t, stringify(doc({ credentials: [cred({ expiresAt: v })] })));
    t.equal(s?.byKeyId.get('ck_test_a')?.expiresAt, Date.parse(v), v);
  }
  for (const v of ['tomorrow', '2026-13-01T00:00:00Z', '2026-12-01T25:00:00Z', '12/01/2026', 'Dec 1 2026', '', 1_780_000_000]) {
    problemAt(t, problemsOf(t, stringify(doc({ credentials: [cred({ expiresAt: v })] }))), 'credentials[0].expiresAt', `expiresAt ${JSON.stringify(v)}`);
    problemAt(
      t,
      problemsOf(t, stringify(doc({ credentials: [cred({ status: 'rotated', graceUntil: v })] }))),
      'credentials[0].graceUntil',
      `graceUntil ${JSON.stringify(v)}`,
    );
  }
});

t.test('an impossible calendar date is not silently moved to another day', async (t) => {
  // 2026-02-30 is not an RFC 3339 date; JavaScript's Date.parse rolls it over to 2026-03-02.
  problemAt(t, problemsOf(t, stringify(doc({ credentials: [cred({ expiresAt: '2026-02-30T00:00:00Z' })] }))), 'credentials[0].expiresAt');
});

t.test('permission rules', async (t) => {
  const withPaths = (paths: string[]) => stringify(doc({ credentials: [cred({ permissions: [{ methods: ['GET'], paths }] })] }));
  for (const pattern of ['v1/x', '/v1/**/x', '/v1/a*', '/v1/*a', '/v1/***', '']) {
    const line = problemAt(t, problemsOf(t, withPaths(['/ok', pattern])), 'credentials[0].permissions[0].paths[1]', `rejects ${JSON.stringify(pattern)}`);
    if (pattern) t.match(line, pattern);
  }
  accepted(t, withPaths(['/', '/v1/vaults', '/v1/vaults/*', '/v1/*/items', '/v1/reports/**', '/**']));
  const methods = (m: unknown[]) => stringify(doc({ credentials: [cred({ permissions: [{ methods: m, paths: ['/v1'] }] })] }));
  accepted(t, methods(['*']));
  accepted(t, methods(['GET', 'POST']));
  problemAt(t, problemsOf(t, methods(['get'])), 'credentials[0].permissions[0].methods[0]');
  problemAt(t, problemsOf(t, methods([])), 'credentials[0].permissions[0].methods');
  problemAt(t, problemsOf(t, withPaths([])), 'credentials[0].permissions[0].paths');
});

t.test('a keyId containing ":" is rejected (the token splits at the first colon)', async (t) => {
  t.match(problemAt(t, problemsOf(t, stringify(doc({ credentials: [cred({ keyId: 'ck_live:abc' })] }))), 'credentials[0].keyId'), 'ck_live:abc');
  problemAt(t, problemsOf(t, stringify(doc({ credentials: [cred({ keyId: '' })] }))), 'credentials[0].keyId', 'empty');
  problemAt(t, problemsOf(t, stringify(doc({ credentials: [cred({ keyId: 'ck live' })] }))), 'credentials[0].keyId', 'space');
});

t.test('YAML syntax errors and duplicate keys', async (t) => {
  const syntax = problemsOf(t, 'tenants: [\n  {id: a}\ncredentials: []\n');
  t.ok(syntax.some((p) => /line \d+/.test(p)), `names a line: ${JSON.stringify(syntax)}`);
  problemsOf(t, 'tenants: []\ntenants: []\ncredentials: []\n');
});

t.test('every problem of a document is listed at once', async (t) => {
  const text = stringify({
    tenants: [
      { id: 'tnt_a', ipAllowList: ['10.0.0.0/8', '010.0.0.1'] },
      { id: 'tnt_a', color: 'blue' },
    ],
    credentials: [
      cred({ secretHash: 'sha256:ABC' }),
      cred({ keyId: 'ck_test_b', tenant: 'tnt_missing' }),
      cred({ keyId: 'ck_test_b', status: 'rotated' }),
      cred({ keyId: 'ck:colon', permissions: [{ methods: ['GET'], paths: ['v1/x'] }] }),
    ],
    extra: 1,
  });
  const p = problemsOf(t, text);
  problemAt(t, p, 'tenants[0].ipAllowList[1]');
  problemAt(t, p, 'tenants[1].color');
  problemAt(t, p, 'tenants[1].id', 'duplicate tenant id');
  problemAt(t, p, 'credentials[0].secretHash');
  problemAt(t, p, 'credentials[1].tenant', 'missing tenant');
  problemAt(t, p, 'credentials[2].keyId', 'duplicate key id');
  t.ok(p.some((l) => /^credentials\[2\](\.graceUntil)?: .*rotated/.test(l)), 'rotated without graceUntil');
  problemAt(t, p, 'credentials[3].keyId', 'colon in keyId');
  problemAt(t, p, 'credentials[3].permissions[0].paths[0]');
  problemAt(t, p, 'extra');
  t.equal(p.length, 10, JSON.stringify(p));
});

t.test('cross-entry rules are still checked when a field has a bad timestamp or status', async (t) => {
  // One pass must list every problem (§4): a bad value in one entry must not hide the duplicate
  // tenant id or the missing tenant elsewhere in the document.
  const p = problemsOf(
    t,
    stringify({
      tenants: [{ id: 'tnt_a' }, { id: 'tnt_a' }],
      credentials: [cred({ expiresAt: 'tomorrow' }), cred({ keyId: 'ck_test_b', tenant: 'tnt_missing' })],
    }),
  );
  problemAt(t, p, 'credentials[0].expiresAt');
  problemAt(t, p, 'tenants[1].id', `duplicate tenant id listed with a bad timestamp: ${JSON.stringify(p)}`);
  problemAt(t, p, 'credentials[1].tenant', `missing tenant listed with a bad timestamp: ${JSON.stringify(p)}`);

  const q = problemsOf(
    t,
    stringify({
      tenants: [{ id: 'tnt_a' }, { id: 'tnt_a' }],
      credentials: [cred({ status: 'enabled' }), cred({ keyId: 'ck_test_b', tenant: 'tnt_missing' })],
    }),
  );
  problemAt(t, q, 'credentials[0].status');
  problemAt(t, q, 'tenants[1].id', `duplicate tenant id listed with a bad status: ${JSON.stringify(q)}`);
  problemAt(t, q, 'credentials[1].tenant', `missing tenant listed with a bad status: ${JSON.stringify(q)}`);
});

// The credentials audit diff (SPEC §8 rev 2): each kind of edit between two real, validated documents
// gives the change lines it should, one per changed item, tenant-level ones without keyId, and a
// re-keyed credential shows as `rotated` naming the field, never its value.
import t from 'tap';
import { stringify } from 'yaml';
import { parseCredentials } from '../../../src/credentials/document-load.js';
import { diffDocuments, type CredentialChange } from '../../../src/credentials/audit.js';
import type { CredentialsDocument } from '../../../src/credentials/document-schema.js';
import { hashOf } from '../../helpers/credentials.js';

type Entry = Record<string, unknown>;

const key = (keyId: string, over: Entry = {}): Entry => ({ keyId, tenant: 'tnt_a', status: 'active', secretHash: hashOf(`sk_${keyId}`), ...over });
const BASE = { tenants: [{ id: 'tnt_a', name: 'A', ipAllowList: ['10.0.0.0/8', '192.0.2.1/32'] }], credentials: [key('ck_a'), key('ck_b')] };

function parsed(d: { tenants: Entry[]; credentials: Entry[] }): CredentialsDocument {
  const r = parseCredentials(stringify(d));
  if (!r.ok) throw new Error(r.problems.join('\n'));
  return r.snapshot.document;
}

/** BASE with key ck_a replaced by `over` applied to it. */
const withA = (over: Entry): { tenants: Entry[]; credentials: Entry[] } => ({ ...BASE, credentials: [key('ck_a', over), key('ck_b')] });
const diff = (after: { tenants: Entry[]; credentials: Entry[] }): CredentialChange[] => diffDocuments(parsed(BASE), parsed(after));

t.test('the same document, or a reordered allowlist, is no change', async (t) => {
  t.strictSame(diff(BASE), []);
  t.strictSame(diff({ ...BASE, tenants: [{ id: 'tnt_a', name: 'A', ipAllowList: ['192.0.2.1/32', '10.0.0.0/8'] }] }), []);
});

t.test('keys added and removed, tenants added and removed', async (t) => {
  const after = { tenants: [{ id: 'tnt_b' }], credentials: [key('ck_c', { tenant: 'tnt_b', status: 'provisioned' })] };
  t.strictSame(diff(after), [
    { change: 'added', tenant: 'tnt_b' },
    { change: 'added', tenant: 'tnt_b', keyId: 'ck_c', to: 'provisioned' },
    { change: 'removed', tenant: 'tnt_a', keyId: 'ck_a', from: 'active' },
    { change: 'removed', tenant: 'tnt_a', keyId: 'ck_b', from: 'active' },
    { change: 'removed', tenant: 'tnt_a' },
  ]);
});

t.test('a revoke is a status change with from and to', async (t) => {
  t.strictSame(diff(withA({ status: 'revoked' })), [{ change: 'status', tenant: 'tnt_a', keyId: 'ck_a', fields: ['status'], from: 'active', to: 'revoked' }]);
});

t.test('a rotation with grace is one rotated line carrying status and graceUntil', async (t) => {
  t.strictSame(diff(withA({ status: 'rotated', graceUntil: '2030-01-01T00:00:00Z' })), [
    { change: 'rotated', tenant: 'tnt_a', keyId: 'ck_a', fields: ['status', 'graceUntil'], from: 'active', to: 'rotated' },
  ]);
});

t.test('a new secret under the same key id is rotated, naming the field and never a hash', async (t) => {
  const lines = diff(withA({ secretHash: hashOf('sk_new_secret') }));
  t.strictSame(lines, [{ change: 'rotated', tenant: 'tnt_a', keyId: 'ck_a', fields: ['secretHash'] }]);
  t.notMatch(JSON.stringify(lines), /sha256|[0-9a-f]{64}/);
});

t.test('expiry, allowlist, permissions and rate limit, and a move to another tenant, one line per kind', async (t) => {
  const after = {
    tenants: [...BASE.tenants, { id: 'tnt_b' }],
    credentials: [
      key('ck_a', {
        expiresAt: '2031-01-01T00:00:00Z',
        ipAllowList: ['10.1.0.0/16'],
        permissions: [{ methods: ['GET'], paths: ['/v1/**'] }],
        rateLimit: { limit: 5, window: '1s' },
        label: 'renamed',
      }),
      key('ck_b', { tenant: 'tnt_b' }),
    ],
  };
  t.strictSame(diff(after), [
    { change: 'added', tenant: 'tnt_b' },
    { change: 'status', tenant: 'tnt_a', keyId: 'ck_a', fields: ['label'] },
    { change: 'expiry', tenant: 'tnt_a', keyId: 'ck_a', fields: ['expiresAt'] },
    { change: 'allowlist', tenant: 'tnt_a', keyId: 'ck_a', fields: ['ipAllowList'] },
    { change: 'permissions', tenant: 'tnt_a', keyId: 'ck_a', fields: ['permissions', 'rateLimit'] },
    { change: 'tenant', tenant: 'tnt_b', keyId: 'ck_b', fields: ['tenant'] },
  ]);
});

t.test("a tenant's allowlist is an allowlist line, its name, reportOnly and rate limit a tenant line, without keyId", async (t) => {
  const after = { ...BASE, tenants: [{ id: 'tnt_a', name: 'A2', ipAllowList: null, reportOnly: true, rateLimit: { limit: 9, window: '1s' } }] };
  t.strictSame(diff(after), [
    { change: 'allowlist', tenant: 'tnt_a', fields: ['ipAllowList'] },
    { change: 'tenant', tenant: 'tnt_a', fields: ['name', 'reportOnly', 'rateLimit'] },
  ]);
});

t.test('reportOnly false and absent are the same; an absent and an empty allowlist are the same', async (t) => {
  const before = { tenants: [{ id: 'tnt_a', ipAllowList: [] }], credentials: [key('ck_a')] };
  const after = { tenants: [{ id: 'tnt_a', reportOnly: false }], credentials: [key('ck_a', { ipAllowList: null })] };
  t.strictSame(diffDocuments(parsed(before), parsed(after)), []);
});

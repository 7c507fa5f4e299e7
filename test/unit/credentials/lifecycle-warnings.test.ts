// Key lifecycle judged at a moment (SPEC §8 rev 2): the effective status (rotated past grace and past
// expiresAt read `expired`), the expiry warnings (usable keys only, within expiryWarning) and rotation
// due (active keys older than maxAge by createdAt; no createdAt, no judgement); createdAt accepted in the
// document; and lastUse carried over a reload by key id.
import t from 'tap';
import { createHash } from 'node:crypto';
import { effectiveStatus } from '../../../src/credentials/effective-status.js';
import { judgedKeys, lifecycleWarnings, type JudgedKey } from '../../../src/credentials/lifecycle-warnings.js';
import { parseCredentials } from '../../../src/credentials/document-load.js';
import { carryLastUse, lastUsedAt } from '../../../src/credentials/last-use.js';
import type { CredentialsSnapshot } from '../../../src/credentials/snapshot.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-10-01T00:00:00Z');
const LIMITS = { expiryWarning: 7 * DAY, maxAge: 90 * DAY };
const key = (over: Partial<JudgedKey>): JudgedKey => ({ keyId: 'ck_a', tenant: 'tnt_a', status: 'active', ...over });
const kinds = (keys: JudgedKey[]): string[] => lifecycleWarnings(keys, LIMITS, NOW).map((w) => `${w.kind}:${w.keyId}@${w.index}`);

t.test('effective status', async (t) => {
  t.equal(effectiveStatus(key({}), NOW), 'active');
  t.equal(effectiveStatus(key({ status: 'provisioned' }), NOW), 'provisioned');
  t.equal(effectiveStatus(key({ status: 'revoked' }), NOW), 'revoked');
  t.equal(effectiveStatus(key({ status: 'rotated', graceUntil: NOW + 1 }), NOW), 'rotated', 'rotated within grace');
  t.equal(effectiveStatus(key({ status: 'rotated', graceUntil: NOW }), NOW), 'expired', 'rotated at the end of grace');
  t.equal(effectiveStatus(key({ expiresAt: NOW }), NOW), 'expired', 'active at expiresAt');
  t.equal(effectiveStatus(key({ status: 'provisioned', expiresAt: NOW - 1 }), NOW), 'expired', 'any status but revoked past expiresAt');
  t.equal(effectiveStatus(key({ status: 'revoked', expiresAt: NOW - 1 }), NOW), 'revoked', 'a revoked key stays revoked, whatever its dates');
  t.equal(effectiveStatus(key({ expiresAt: NOW + 1 }), NOW), 'active', 'before expiresAt');
});

t.test('expiring: usable keys whose expiresAt is within expiryWarning', async (t) => {
  t.same(kinds([key({ keyId: 'ck_1', expiresAt: NOW + DAY })]), ['expiring:ck_1@0'], 'active, 1 day left');
  t.same(kinds([key({ expiresAt: NOW + 7 * DAY })]), ['expiring:ck_a@0'], 'exactly expiryWarning left');
  t.same(kinds([key({ expiresAt: NOW + 7 * DAY + 1 })]), [], 'beyond expiryWarning');
  t.same(kinds([key({ status: 'rotated', graceUntil: NOW + DAY, expiresAt: NOW + DAY })]), ['expiring:ck_a@0'], 'rotated within grace');
  t.same(kinds([key({ status: 'rotated', graceUntil: NOW - 1, expiresAt: NOW + DAY })]), [], 'rotated past grace: not usable');
  t.same(kinds([key({ status: 'provisioned', expiresAt: NOW + DAY })]), [], 'provisioned: not usable');
  t.same(kinds([key({ status: 'revoked', expiresAt: NOW + DAY })]), [], 'revoked: not usable');
  t.same(kinds([key({ expiresAt: NOW - 1 })]), [], 'already expired: refused, no longer a warning');
  t.same(kinds([key({})]), [], 'no expiresAt');
});

t.test('rotation due: active keys created more than maxAge ago', async (t) => {
  t.same(kinds([key({ keyId: 'ck_old', createdAt: NOW - 100 * DAY })]), ['rotation_due:ck_old@0']);
  t.same(kinds([key({ createdAt: NOW - 90 * DAY })]), [], 'exactly maxAge old: not yet');
  t.same(kinds([key({ createdAt: NOW - 10 * DAY })]), [], 'young key');
  t.same(kinds([key({})]), [], 'no createdAt: not judged');
  t.same(kinds([key({ status: 'rotated', graceUntil: NOW + DAY, createdAt: NOW - 100 * DAY })]), [], 'rotated: already being replaced');
  t.same(kinds([key({ status: 'provisioned', createdAt: NOW - 100 * DAY })]), [], 'provisioned');
  t.same(kinds([key({ createdAt: NOW - 100 * DAY, expiresAt: NOW - 1 })]), [], 'expired');
  const both = lifecycleWarnings([key({ keyId: 'ck_x' }), key({ keyId: 'ck_y', createdAt: NOW - 100 * DAY, expiresAt: NOW + DAY })], LIMITS, NOW);
  t.same(both.map((w) => [w.kind, w.keyId, w.index, w.at]), [['expiring', 'ck_y', 1, NOW + DAY], ['rotation_due', 'ck_y', 1, NOW - 100 * DAY]], 'one key, both warnings, its index');
});

const HASH = `sha256:${createHash('sha256').update('s').digest('hex')}`;
function snapshot(keyIds: string[], createdAt = ''): CredentialsSnapshot {
  const creds = keyIds.map((k) => `  - { keyId: ${k}, tenant: tnt_a, status: active, secretHash: "${HASH}"${createdAt ? `, createdAt: ${createdAt}` : ''} }`);
  const r = parseCredentials(`tenants: [{ id: tnt_a }]\ncredentials:\n${creds.join('\n')}\n`);
  if (!r.ok) throw new Error(r.problems.join('; '));
  return r.snapshot;
}

t.test('createdAt: accepted as a timestamp, judged from the snapshot', async (t) => {
  const s = snapshot(['ck_a'], '2026-06-01T00:00:00Z');
  t.equal(s.byKeyId.get('ck_a')?.createdAt, Date.parse('2026-06-01T00:00:00Z'));
  t.same(kinds(judgedKeys(s.byKeyId.values())), ['rotation_due:ck_a@0'], '122 days before NOW');
  const bad = parseCredentials(`tenants: [{ id: tnt_a }]\ncredentials:\n  - { keyId: ck_a, tenant: tnt_a, status: active, secretHash: "${HASH}", createdAt: yesterday }\n`);
  t.match(bad.ok ? [] : bad.problems, [/^credentials\[0\]\.createdAt: invalid timestamp "yesterday"/]);
});

t.test('lastUse: never is null; a reload keeps it for the keys that remain', async (t) => {
  const before = snapshot(['ck_a', 'ck_b']);
  t.equal(lastUsedAt(before.byKeyId.get('ck_a')!.lastUse), null);
  before.byKeyId.get('ck_a')!.lastUse.at = NOW;
  const after = snapshot(['ck_a', 'ck_c']);
  carryLastUse(before, after);
  t.equal(lastUsedAt(after.byKeyId.get('ck_a')!.lastUse), '2026-10-01T00:00:00.000Z', 'kept by key id');
  t.equal(lastUsedAt(after.byKeyId.get('ck_c')!.lastUse), null, 'a new key: never used');
  carryLastUse(undefined, after);
  t.equal(after.byKeyId.get('ck_a')!.lastUse.at, NOW, 'the first load carries nothing');
});

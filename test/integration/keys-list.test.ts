// SPEC §2 `keys list --file CREDS [--tenant ID] [--json]`: keyId, tenant, status, effective status,
// createdAt, graceUntil, expiresAt, label, as a table or a JSON array; never hashes or secrets. Through
// runKeys (what the bin runs) on a real file.
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { credentialsYaml } from '../helpers/credentials.js';
import { inProcess, type CliRun } from '../helpers/cli-run.js';
import { runKeys } from '../../src/keys/keys-cli.js';

const keys = (...args: string[]): Promise<CliRun> => inProcess(runKeys, args);
const PAST = '2020-01-01T00:00:00Z';
const FUTURE = '2099-01-01T00:00:00Z';

function file(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'custody-proxy-keys-list-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const f = path.join(dir, 'credentials.yaml');
  const text = credentialsYaml(
    [{ id: 'tnt_one' }, { id: 'tnt_two' }, { id: 'tnt_none' }],
    [
      { keyId: 'ck_live_act', tenant: 'tnt_one', secret: 'sk_live_act', expiresAt: FUTURE, label: 'payments prod' },
      { keyId: 'ck_live_grace', tenant: 'tnt_one', secret: 'sk_live_grace', status: 'rotated', graceUntil: FUTURE },
      { keyId: 'ck_live_past', tenant: 'tnt_two', secret: 'sk_live_past', status: 'rotated', graceUntil: PAST },
      { keyId: 'ck_live_exp', tenant: 'tnt_two', secret: 'sk_live_exp', expiresAt: PAST, label: 'line\nbreak\x1b[31m' },
      { keyId: 'ck_live_rev', tenant: 'tnt_two', secret: 'sk_live_rev', status: 'revoked' },
    ],
  ).replace('  - keyId: ck_live_act\n', '  - keyId: ck_live_act\n    createdAt: 2026-09-01T00:00:00Z\n');
  writeFileSync(f, text);
  return f;
}

t.test('--json: every key in document order with its effective status and dates; null where absent', async (t) => {
  const f = file(t);
  const r = await keys('list', '--file', f, '--json');
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, '');
  t.same(JSON.parse(r.stdout), [
    { keyId: 'ck_live_act', tenant: 'tnt_one', status: 'active', effectiveStatus: 'active', createdAt: '2026-09-01T00:00:00Z', graceUntil: null, expiresAt: FUTURE, label: 'payments prod', warnings: ['rotation_due'] },
    { keyId: 'ck_live_grace', tenant: 'tnt_one', status: 'rotated', effectiveStatus: 'rotated', createdAt: null, graceUntil: FUTURE, expiresAt: null, label: null, warnings: [] },
    { keyId: 'ck_live_past', tenant: 'tnt_two', status: 'rotated', effectiveStatus: 'expired', createdAt: null, graceUntil: PAST, expiresAt: null, label: null, warnings: [] },
    { keyId: 'ck_live_exp', tenant: 'tnt_two', status: 'active', effectiveStatus: 'expired', createdAt: null, graceUntil: null, expiresAt: PAST, label: 'line\nbreak\x1b[31m', warnings: [] },
    { keyId: 'ck_live_rev', tenant: 'tnt_two', status: 'revoked', effectiveStatus: 'revoked', createdAt: null, graceUntil: null, expiresAt: null, label: null, warnings: [] },
  ]);
  t.notMatch(r.stdout, /sha256|sk_live|secretHash/, 'never a hash or a secret');
});

t.test('the table: a header and one row per key; labels cannot break rows or drive the terminal', async (t) => {
  const f = file(t);
  const r = await keys('list', '--file', f);
  t.equal(r.code, 0, r.stderr);
  const rows = r.stdout.trimEnd().split('\n');
  t.match(rows[0], /^KEY ID\s+TENANT\s+STATUS\s+EFFECTIVE\s+CREATED\s+GRACE UNTIL\s+EXPIRES\s+WARNINGS\s+LABEL$/);
  t.equal(rows.length, 6, 'one line per key');
  t.match(rows[1], /^ck_live_act\s+tnt_one\s+active\s+active\s+2026-09-01T00:00:00Z\s+-\s+2099-01-01T00:00:00Z\s+rotation_due\s+payments prod$/);
  t.match(rows[3], /^ck_live_past\s+tnt_two\s+rotated\s+expired\s+-\s+2020-01-01T00:00:00Z\s+-\s+-$/);
  t.match(rows[4], /^ck_live_exp\s+tnt_two\s+active\s+expired\s.*line\\x0abreak\\x1b\[31m$/, 'control characters escaped');
  t.notOk(r.stdout.includes('\x1b'), 'no raw escape character on stdout');
  t.notMatch(r.stdout, /sha256|sk_live/, 'never a hash or a secret');
});

t.test('--tenant narrows to one tenant; a tenant without keys lists none; an unknown tenant is an error', async (t) => {
  const f = file(t);
  const one = await keys('list', '--file', f, '--tenant', 'tnt_one', '--json');
  t.same((JSON.parse(one.stdout) as Array<{ keyId: string }>).map((k) => k.keyId), ['ck_live_act', 'ck_live_grace']);
  const none = await keys('list', '--file', f, '--tenant', 'tnt_none', '--json');
  t.same(JSON.parse(none.stdout), [], 'an empty array');
  const table = await keys('list', '--file', f, '--tenant', 'tnt_none');
  t.equal(table.stdout.trimEnd().split('\n').length, 1, 'the table: the header alone');
  const unknown = await keys('list', '--file', f, '--tenant', 'tnt_nope');
  t.equal(unknown.code, 1);
  t.equal(unknown.stdout, '');
  t.equal(unknown.stderr, 'custody-proxy keys list: unknown tenant "tnt_nope"\n');
  const bad = await keys('list', '--file', f, '--json=yes');
  t.equal(bad.code, 2, '--json takes no value: a usage error');
});

t.test('warnings (SPEC §8 rev 2, by the default limits): expiring within 7 days, active and created over 90 days ago', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'custody-proxy-keys-list-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const f = path.join(dir, 'credentials.yaml');
  const day = 86_400_000;
  const at = (ms: number): string => new Date(Date.now() + ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  writeFileSync(f, credentialsYaml([{ id: 'tnt_w' }], [
    { keyId: 'ck_live_soon', tenant: 'tnt_w', secret: 's1', expiresAt: at(2 * day), createdAt: at(-10 * day) },
    { keyId: 'ck_live_later', tenant: 'tnt_w', secret: 's2', expiresAt: at(30 * day), createdAt: at(-89 * day) },
    { keyId: 'ck_live_old', tenant: 'tnt_w', secret: 's3', createdAt: at(-91 * day) },
    { keyId: 'ck_live_oldrev', tenant: 'tnt_w', secret: 's4', status: 'revoked', createdAt: at(-200 * day), expiresAt: at(day) },
  ]));
  const r = await keys('list', '--file', f, '--json');
  t.equal(r.code, 0, r.stderr);
  const warnings = Object.fromEntries((JSON.parse(r.stdout) as Array<{ keyId: string; warnings: string[] }>).map((k) => [k.keyId, k.warnings]));
  t.same(warnings, { ck_live_soon: ['expiring'], ck_live_later: [], ck_live_old: ['rotation_due'], ck_live_oldrev: [] }, 'a revoked key is not warned about');
  const table = await keys('list', '--file', f);
  t.match(table.stdout, /ck_live_soon\s.*\sexpiring/, 'the table shows them too');
});

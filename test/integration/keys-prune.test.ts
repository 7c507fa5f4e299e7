// SPEC §2 rev 2 `keys prune --file CREDS [--older-than DURATION]`: removes revoked and expired records
// whose latest date (graceUntil, expiresAt, createdAt) is older than the duration (default 30d); a dead
// record without dates counts as old; live keys always stay. Through runKeys on a real file.
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { inProcess, type CliRun } from '../helpers/cli-run.js';
import { hashOf } from '../helpers/credentials.js';
import { runKeys } from '../../src/keys/keys-cli.js';
import { parseCredentials } from '../../src/credentials/document-load.js';

const keys = (...args: string[]): Promise<CliRun> => inProcess(runKeys, args);
const DAY = 86_400_000;
const ago = (days: number): string => new Date(Date.now() - days * DAY).toISOString().replace(/\.\d{3}Z$/, 'Z');
const ahead = (days: number): string => ago(-days);

const record = (keyId: string, status: string, fields: string[] = []): string =>
  [`  - keyId: ${keyId}`, '    tenant: tnt_one', `    status: ${status}`, `    secretHash: "${hashOf(keyId)}"`, ...fields.map((f) => `    ${f}`)].join('\n');

// each record's name says whether prune (30d) removes it
const DOC = `# kept: a comment at the top
tenants:
  - id: tnt_one
credentials:
${record('ck_live_keep_active_old', 'active', [`createdAt: ${ago(400)}`])}
${record('ck_live_drop_revoked_old', 'revoked', [`createdAt: ${ago(40)}`])}
  # a comment on a recently revoked key
${record('ck_live_keep_revoked_recent', 'revoked', [`createdAt: ${ago(400)}`, `expiresAt: ${ago(10)}`])}
${record('ck_live_drop_revoked_undated', 'revoked')}
${record('ck_live_drop_rotated_long_ago', 'rotated', [`graceUntil: ${ago(31)}`, `createdAt: ${ago(200)}`])}
${record('ck_live_keep_rotated_recently', 'rotated', [`graceUntil: ${ago(2)}`])}
${record('ck_live_keep_in_grace', 'rotated', [`graceUntil: ${ahead(1)}`, `createdAt: ${ago(400)}`])}
${record('ck_live_drop_expired_old', 'active', [`expiresAt: ${ago(60)}`])}
${record('ck_live_keep_provisioned_old', 'provisioned', [`createdAt: ${ago(400)}`])}
`;

function file(t: Test, text = DOC): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'custody-proxy-keys-prune-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const f = path.join(dir, 'credentials.yaml');
  writeFileSync(f, text);
  return f;
}

const ids = (f: string): string[] => (parse(readFileSync(f, 'utf8')) as { credentials: Array<{ keyId: string }> }).credentials.map((c) => c.keyId);
const ALL = [...DOC.matchAll(/keyId: (\S+)/g)].map((m) => m[1] ?? '');

t.test('default 30d: dead records older than 30 days go, by their latest date; live ones stay whatever their age', async (t) => {
  const f = file(t);
  const r = await keys('prune', '--file', f);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, '');
  const dropped = ALL.filter((id) => id.includes('_drop_'));
  t.equal(r.stdout, `${dropped.join('\n')}\n`, 'the removed key ids on stdout, one a line');
  t.same(ids(f), ALL.filter((id) => id.includes('_keep_')), 'exactly the dead and old records removed');
  const text = readFileSync(f, 'utf8');
  t.ok(text.startsWith('# kept: a comment at the top\n'), 'the comments elsewhere are kept');
  t.match(text, /# a comment on a recently revoked key\n {2}- keyId: ck_live_keep_revoked_recent/, 'a kept record keeps its comment');
  t.ok(parseCredentials(text).ok, 'a valid document');
});

t.test('--older-than: a shorter age removes more; 0d every dead record; nothing to prune leaves the file as it was', async (t) => {
  const f = file(t);
  const r = await keys('prune', '--file', f, '--older-than', '5d');
  t.equal(r.code, 0, r.stderr);
  t.same(ids(f), ['ck_live_keep_active_old', 'ck_live_keep_rotated_recently', 'ck_live_keep_in_grace', 'ck_live_keep_provisioned_old'], '5d: the revocation 10 days ago goes too');
  const zero = await keys('prune', '--file', f, '--older-than', '0d');
  t.equal(zero.stdout, 'ck_live_keep_rotated_recently\n', '0d: every dead record');
  const before = `${statSync(f).ino}:${statSync(f).mtimeMs}`;
  const none = await keys('prune', '--file', f, '--older-than', '0d');
  t.equal(none.code, 0);
  t.equal(none.stdout, '', 'nothing to prune: nothing printed');
  t.equal(`${statSync(f).ino}:${statSync(f).mtimeMs}`, before, 'and the file is not rewritten');
});

t.test('every record pruned leaves a valid empty list', async (t) => {
  const f = file(t, `tenants:\n  - id: tnt_one\ncredentials:\n${record('ck_live_gone', 'revoked')}\n`);
  const r = await keys('prune', '--file', f);
  t.equal(r.stdout, 'ck_live_gone\n');
  t.same(ids(f), []);
  t.ok(parseCredentials(readFileSync(f, 'utf8')).ok);
});

t.test('errors: bad --older-than is a usage error, an invalid document exit 1; the file untouched', async (t) => {
  const f = file(t);
  const bad = await keys('prune', '--file', f, '--older-than', '1month');
  t.equal(bad.code, 2);
  t.equal(bad.stderr, 'custody-proxy keys prune: --older-than must be a duration like 30d or 12h, not "1month"\n');
  const noFile = await keys('prune');
  t.equal(noFile.code, 2);
  t.match(noFile.stderr, /missing --file CREDS/);
  const invalid = file(t, DOC.replace('tenant: tnt_one', 'tenant: tnt_nope'));
  const inv = await keys('prune', '--file', invalid);
  t.equal(inv.code, 1);
  t.match(inv.stderr, /^custody-proxy keys prune: .*not a valid credentials document: .*tnt_nope[^\n]*\n$/);
  t.equal(readFileSync(f, 'utf8'), DOC, 'untouched');
  t.equal(readFileSync(invalid, 'utf8'), DOC.replace('tenant: tnt_one', 'tenant: tnt_nope'), 'untouched');
  t.same(readdirSync(path.dirname(f)), ['credentials.yaml'], 'no lock or temp file left');
});

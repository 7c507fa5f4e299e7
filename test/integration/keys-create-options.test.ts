// SPEC §2 rev 2: `keys create --expires DURATION|DATE --permission 'METHODS PATHS'` and `createdAt`
// written by create and rotate; rotate keeps what narrows the old key (permissions, ipAllowList,
// rateLimit). Through runKeys (what the bin runs) on real files; bad values are usage errors with the
// file untouched.
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { credentialsYaml } from '../helpers/credentials.js';
import { inProcess, type CliRun } from '../helpers/cli-run.js';
import { runKeys } from '../../src/keys/keys-cli.js';
import { parseCredentials } from '../../src/credentials/document-load.js';

const keys = (...args: string[]): Promise<CliRun> => inProcess(runKeys, args);
const DAY = 86_400_000;
const ISO_SECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

interface Rec {
  keyId: string;
  status: string;
  expiresAt?: string;
  createdAt?: string;
  permissions?: Array<{ methods: string[]; paths: string[] }>;
  ipAllowList?: string[];
  rateLimit?: unknown;
  label?: string;
}

function file(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'custody-proxy-keys-opts-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const f = path.join(dir, 'credentials.yaml');
  writeFileSync(
    f,
    credentialsYaml(
      [{ id: 'tnt_one' }],
      [{ keyId: 'ck_live_old', tenant: 'tnt_one', secret: 's', label: 'ops', ipAllowList: ['203.0.113.7/32'], permissions: [{ methods: ['GET'], paths: ['/v1/reports/**'] }] }],
    ),
  );
  return f;
}

const recordOf = (f: string, keyId: string): Rec | undefined =>
  (parse(readFileSync(f, 'utf8')) as { credentials: Rec[] }).credentials.find((r) => r.keyId === keyId);
const keyIdOf = (r: CliRun): string => r.stdout.split(':')[0] ?? '';

t.test('--expires as a duration from now (d counts from today) and as a date; createdAt is now, in UTC seconds', async (t) => {
  const f = file(t);
  const t0 = Date.now();
  const inDays = await keys('create', '--file', f, '--tenant', 'tnt_one', '--expires', '90d');
  t.equal(inDays.code, 0, inDays.stderr);
  const rec = recordOf(f, keyIdOf(inDays));
  t.match(rec?.expiresAt, ISO_SECONDS, 'expiresAt in UTC seconds');
  t.match(rec?.createdAt, ISO_SECONDS, 'createdAt in UTC seconds');
  const expires = Date.parse(rec?.expiresAt ?? '');
  t.ok(expires >= t0 - 1000 + 90 * DAY && expires <= Date.now() + 90 * DAY, `expiresAt = now + 90 days (${rec?.expiresAt})`);
  const created = Date.parse(rec?.createdAt ?? '');
  t.ok(created >= t0 - 1000 && created <= Date.now(), `createdAt = now (${rec?.createdAt})`);

  const onDate = await keys('create', '--file', f, '--tenant', 'tnt_one', '--expires', '2099-06-01');
  t.equal(onDate.code, 0, onDate.stderr);
  t.equal(recordOf(f, keyIdOf(onDate))?.expiresAt, '2099-06-01T00:00:00Z', 'a date alone is its midnight UTC');
  const atTime = await keys('create', '--file', f, '--tenant', 'tnt_one', '--expires', '2099-06-01T12:30:00+02:00');
  t.equal(recordOf(f, keyIdOf(atTime))?.expiresAt, '2099-06-01T10:30:00Z', 'an offset is written in UTC');
  const plain = await keys('create', '--file', f, '--tenant', 'tnt_one');
  t.notOk(recordOf(f, keyIdOf(plain))?.expiresAt, 'no --expires, no expiresAt');
  t.match(recordOf(f, keyIdOf(plain))?.createdAt, ISO_SECONDS, 'createdAt without --expires too');
  const parsed = parseCredentials(readFileSync(f, 'utf8'));
  t.ok(parsed.ok, 'the document stays valid');
  if (parsed.ok) t.equal(parsed.snapshot.byKeyId.get(keyIdOf(onDate))?.expiresAt, Date.parse('2099-06-01T00:00:00Z'), 'the proxy reads the same expiry');
});

t.test('--permission, repeatable: written as SPEC §4 rules (flow lists) and enforced as the document reads them', async (t) => {
  const f = file(t);
  const r = await keys('create', '--file', f, '--tenant', 'tnt_one', '--permission', 'GET,HEAD /v1/vaults /v1/vaults/**', '--permission', 'POST /v1/withdrawals');
  t.equal(r.code, 0, r.stderr);
  const keyId = keyIdOf(r);
  t.same(recordOf(f, keyId)?.permissions, [
    { methods: ['GET', 'HEAD'], paths: ['/v1/vaults', '/v1/vaults/**'] },
    { methods: ['POST'], paths: ['/v1/withdrawals'] },
  ]);
  const text = readFileSync(f, 'utf8');
  t.match(text, /^ {6}- methods: \[GET, HEAD\]\n {8}paths: \["\/v1\/vaults", "\/v1\/vaults\/\*\*"\]$/m, 'flow lists, paths quoted, as SPEC §4 writes them');
  const parsed = parseCredentials(text);
  t.equal(parsed.ok && parsed.snapshot.byKeyId.get(keyId)?.permissions?.length, 2, 'the proxy compiles both rules');
});

t.test('rotate writes createdAt on the new key and keeps what narrows the old one', async (t) => {
  const f = file(t);
  const r = await keys('rotate', 'ck_live_old', '--file', f);
  t.equal(r.code, 0, r.stderr);
  const fresh = recordOf(f, keyIdOf(r));
  t.match(fresh?.createdAt, ISO_SECONDS, 'createdAt on the new key');
  t.same(fresh?.permissions, [{ methods: ['GET'], paths: ['/v1/reports/**'] }], 'the permissions carried over');
  t.same(fresh?.ipAllowList, ['203.0.113.7/32'], 'the key allowlist carried over');
  t.equal(fresh?.label, 'ops');
  t.notOk(recordOf(f, 'ck_live_old')?.createdAt, 'the old record is not given a createdAt it never had');
});

t.test('bad --expires or --permission: exit 2, one line naming the flag, the file untouched', async (t) => {
  const f = file(t);
  const before = `${statSync(f).ino}:${readFileSync(f, 'utf8')}`;
  const cases: Array<[string[], RegExp]> = [
    [['--expires', '90days'], /--expires .*"90days"/],
    [['--expires', '2026-02-30'], /--expires .*"2026-02-30"/],
    [['--expires', '2001-01-01'], /--expires "2001-01-01" is not in the future/],
    [['--expires', '0d'], /not in the future/],
    [['--permission', 'GET'], /--permission "GET" must be 'METHODS PATHS'/],
    [['--permission', 'get /v1/vaults'], /--permission "get \/v1\/vaults": method "get" must be an upper-case HTTP method/],
    [['--permission', 'GET v1/vaults'], /invalid path pattern "v1\/vaults"/],
    [['--permission', 'GET /v1/**/x'], /invalid path pattern/],
    [['--permission', 'GET /v1', '--permission', 'POST /a*b'], /"\/a\*b"/],
  ];
  for (const [extra, message] of cases) {
    const r = await keys('create', '--file', f, '--tenant', 'tnt_one', ...extra);
    t.equal(r.code, 2, `${extra.join(' ')}: exit 2`);
    t.equal(r.stdout, '', 'nothing on stdout');
    t.match(r.stderr, /^custody-proxy keys create: [^\n]+\n$/, 'one line');
    t.match(r.stderr, message, r.stderr.trim());
  }
  t.equal(`${statSync(f).ino}:${readFileSync(f, 'utf8')}`, before, 'the file untouched');
  t.same(readdirSync(path.dirname(f)), ['credentials.yaml'], 'nothing left behind');
});

// SPEC §2 `custody-proxy keys create|rotate|activate|revoke|list` and `check`, through the real bin:
// CSPRNG ids and secrets (≥ 256 bits), the token printed once and written nowhere, comments and layout
// kept, atomic writes (temp + rename), no lost update under concurrent invocations, one-line errors
// with the file untouched; and end to end against a running proxy (create, activate, revoke, rotate).
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import * as nodeCrypto from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import { startUpstream, type RecordingUpstream } from '../helpers/recording-upstream.js';
import { startProxy, type TestProxy } from '../helpers/start-proxy.js';
import { credentialsYaml, hashOf } from '../helpers/credentials.js';
import { request } from '../helpers/http-client.js';
import { parseCredentials } from '../../src/credentials/document-load.js';
import { runKeys } from '../../src/keys/keys-cli.js';
import { inProcess } from '../helpers/cli-run.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'custody-proxy.js');

/** SPEC §2: the token is `ck_<env>_<id>:sk_<env>_<secret>`. */
const TOKEN = /^(ck_(live|test)_[A-Za-z0-9]+):(sk_(live|test)_([A-Za-z0-9_-]+))$/;
const TAKES_EFFECT_MS = 2000;

// Each case starts Node processes; on a loaded machine that takes seconds.
t.setTimeout(240_000);

t.before(() => {
  if (!existsSync(path.join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/ is missing: run `npm run build` first');
});

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `custody-proxy <args>`, to completion; ended by its PID after 60 s. */
const cli = (args: readonly string[]): Promise<Run> => node([BIN, ...args]);

/** `node <argv>`, to completion; ended by its PID after 60 s. */
function node(argv: readonly string[]): Promise<Run> {
  const env = { ...process.env };
  delete env['NODE_OPTIONS'];
  const child = spawn(process.execPath, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
      reject(new Error(`node ${argv.filter((a) => !a.includes('\n')).join(' ')} did not exit within 60 s`));
    }, 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
const keys = (...args: string[]): Promise<Run> => cli(['keys', ...args]);

/**
 * The same `keys` command run in this process (runKeys is what the bin calls), with stdout and stderr
 * captured: used where a separate process adds nothing but seconds of start-up on a loaded machine.
 */
const keysHere = (...args: string[]): Promise<Run> => inProcess(runKeys, args);

function scratch(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'custody-proxy-keys-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Parses a printed token; fails the test when stdout is anything but exactly one token line. */
function tokenOf(t: Test, r: Run): { keyId: string; secret: string; token: string } {
  t.equal(r.code, 0, `exit 0 (stderr: ${r.stderr.trim()})`);
  t.equal(r.stderr, '', 'nothing on stderr');
  const m = TOKEN.exec(r.stdout.replace(/\n$/, ''));
  // the token is a credential: shown only when the assertion fails
  t.ok(m && r.stdout.endsWith('\n') && r.stdout.split('\n').length === 2, 'stdout is exactly one token line', { found: r.stdout });
  return { keyId: m?.[1] ?? '', secret: m?.[3] ?? '', token: m?.[0] ?? '' };
}

interface Rec {
  keyId: string;
  tenant: string;
  status: string;
  secretHash: string;
  graceUntil?: string;
  label?: string;
}
const records = (file: string): Rec[] => (parse(readFileSync(file, 'utf8')) as { credentials: Rec[] }).credentials;
const recordOf = (file: string, keyId: string): Rec | undefined => records(file).find((r) => r.keyId === keyId);

/** every file in dir (recursively, hidden ones too) */
function allFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? allFiles(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

const BASIC = credentialsYaml(
  [{ id: 'tnt_one' }, { id: 'tnt_two' }],
  [
    { keyId: 'ck_live_one1', tenant: 'tnt_one', secret: 'sk_live_one1' },
    { keyId: 'ck_live_two1', tenant: 'tnt_two', secret: 'sk_live_two1', status: 'revoked' },
  ],
);

function basicFile(t: Test, text = BASIC): string {
  const file = path.join(scratch(t), 'credentials.yaml');
  writeFileSync(file, text, { mode: 0o640 });
  chmodSync(file, 0o640);
  return file;
}

t.test('create: the token is printed once on stdout and nothing else; the file holds only its hash; it is written nowhere', async (t) => {
  const file = basicFile(t);
  const dir = path.dirname(file);
  const [r, r2] = await Promise.all([
    keys('create', '--file', file, '--tenant', 'tnt_one', '--label', 'payments prod'),
    keys('create', '--file', file, '--tenant', 'tnt_two', '--env', 'test', '--status', 'provisioned'),
  ]);
  const tok = tokenOf(t, r);
  t.match(tok.keyId, /^ck_live_/, 'live unless told');
  t.match(tok.secret, /^sk_live_/);
  const rec = recordOf(file, tok.keyId);
  t.match(rec, { tenant: 'tnt_one', status: 'active', label: 'payments prod' }, 'the record: active unless told, with its label');
  t.equal(rec?.secretHash, hashOf(tok.secret), 'secretHash is sha256 over the printed secret');
  for (const f of allFiles(dir)) {
    const bytes = readFileSync(f, 'utf8');
    t.notOk(bytes.includes(tok.secret) || bytes.includes(r2.stdout.trim().split(':')[1] ?? '?'), `no secret in ${path.basename(f)}`);
  }
  t.same(readdirSync(dir), ['credentials.yaml'], 'no temp or lock file left behind');
  t.equal(statSync(file).mode & 0o777, 0o640, 'the file mode is kept');

  const test = tokenOf(t, r2);
  t.match(test.keyId, /^ck_test_/, '--env test');
  t.match(test.secret, /^sk_test_/);
  t.equal(recordOf(file, test.keyId)?.status, 'provisioned', '--status provisioned');

  const list = await keys('list', '--file', file);
  t.equal(list.code, 0);
  t.equal(list.stderr, '');
  const rows = list.stdout.trimEnd().split('\n');
  t.match(rows[0], /^KEY ID\s+TENANT\s+STATUS\s+EFFECTIVE\s+CREATED\s+GRACE UNTIL\s+EXPIRES\s+WARNINGS\s+LABEL$/, 'list: the header');
  t.equal(rows.length, 5, 'list: one row per credential');
  t.ok(
    rows.some((l) => l.startsWith(tok.keyId) && /tnt_one\s+active\s+active\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+-\s+-\s+-\s+payments prod$/.test(l)),
    'list: keyId, tenant, status, effective status, createdAt, graceUntil, expiresAt, warnings, label',
  );
  t.ok(rows.some((l) => l.startsWith('ck_live_two1') && /\brevoked\b/.test(l)));
  t.notMatch(list.stdout, /sha256|sk_/, 'list: never a hash or a secret');
});

t.test('ids and secrets come from the CSPRNG: 32 random bytes of secret (256 bits), fresh every time', async (t) => {
  const sizes: number[] = [];
  const mod = await t.mockImport<typeof import('../../src/keys/key-gen.js')>('../../src/keys/key-gen.js', {
    'node:crypto': {
      ...nodeCrypto,
      randomBytes: (n: number): Buffer => {
        sizes.push(n);
        return Buffer.alloc(n, 0xab);
      },
    },
  });
  const pair = mod.generateKeyPair('live');
  t.ok(sizes.length >= 2, 'randomBytes drew both the id and the secret');
  t.ok(Math.max(...sizes) >= 32, `at least 32 bytes for the secret (${sizes.join(', ')})`);
  t.equal(pair.secret, `sk_live_${Buffer.alloc(32, 0xab).toString('base64url')}`, 'the secret is exactly those 32 CSPRNG bytes');
  t.ok(pair.keyId.startsWith('ck_live_') && pair.keyId.length > 'ck_live_'.length + 15, 'the id is drawn from them too');
  t.equal(pair.token, `${pair.keyId}:${pair.secret}`);

  // the real generator: secrets decode to ≥ 32 bytes and never repeat
  const real = await import('../../src/keys/key-gen.js');
  const seen = new Set<string>();
  const ids = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const p = real.generateKeyPair('test');
    seen.add(p.secret);
    ids.add(p.keyId);
    if (i === 0) t.ok(Buffer.from(p.secret.slice('sk_test_'.length), 'base64url').length >= 32, '≥ 256 bits in the secret');
  }
  t.equal(seen.size, 2000, '2000 distinct secrets');
  t.equal(ids.size, 2000, '2000 distinct ids');
});

// SPEC §4's own layout: comments (full-line and inline), blank lines, flow sequences, quoted and plain
// scalars, timestamps, a long label. A key CLI edit must change only what it is about.
const HAND_WRITTEN = `# Credentials for custody-proxy (SPEC §4).
# Managed with \`custody-proxy keys\`; hand edits welcome.

tenants:
  # Secure Corp: production traffic only from its NAT ranges
  - id: tnt_secure_corp
    name: Secure Corp
    ipAllowList: ["203.0.113.0/24", "198.51.100.42/32", "2001:db8:1::/48"]   # null or [] = all IPs allowed

  - id: tnt_sandbox
    name: "Sandbox (internal)"
    ipAllowList: null

credentials:
  # payments-prod: the main key
  - keyId: ck_live_abc123
    tenant: tnt_secure_corp
    status: active
    secretHash: "${hashOf('sk_live_abc123')}"
    expiresAt: 2027-06-01T00:00:00Z    # optional, any status
    label: payments-prod

  # reporting: read only; its label is longer than eighty columns on purpose
  - keyId: ck_live_def456
    tenant: tnt_secure_corp
    status: active
    secretHash: "${hashOf('sk_live_def456')}"
    label: reporting service for the quarterly regulatory filings of Secure Corp custody accounts
    permissions:                       # optional; absent = every method and path
      - methods: [GET]
        paths: ["/v1/vaults", "/v1/vaults/*", "/v1/reports/**"]   # * = one segment, ** = any rest

  - keyId: ck_test_sbx001
    tenant: tnt_sandbox
    status: provisioned
    secretHash: '${hashOf('sk_test_sbx001')}'
`;

/** Lines, compared exactly: keep-layout restores what the yaml library re-spaces (keys-layout.test.ts). */
const normText = (text: string): string[] => text.split('\n');
const commentsOf = (text: string): string[] => text.split('\n').flatMap((l) => (/#/.test(l) ? [l.slice(l.indexOf('#'))] : []));

t.test('edits keep comments and layout: revoke, activate, rotate and create change only their own lines', async (t) => {
  const file = basicFile(t, HAND_WRITTEN);
  const original = HAND_WRITTEN.split('\n');

  const revoke = await keysHere('revoke', 'ck_live_abc123', '--file', file);
  t.equal(revoke.code, 0, revoke.stderr);
  t.equal(revoke.stdout, '', 'revoke prints nothing');
  const afterRevoke = readFileSync(file, 'utf8');
  const expected = original.map((l, i) => (i === original.indexOf('    status: active') ? '    status: revoked' : l)).join('\n');
  t.same(normText(afterRevoke), normText(expected), 'revoke: only the status line changed');
  t.same(commentsOf(afterRevoke), commentsOf(HAND_WRITTEN), 'every comment kept, in order');

  const activate = await keysHere('activate', 'ck_test_sbx001', '--file', file);
  t.equal(activate.code, 0, activate.stderr);
  const afterActivate = readFileSync(file, 'utf8');
  t.same(normText(afterActivate), normText(expected.replace('    status: provisioned', '    status: active')), 'activate: only the status line changed');

  const rotated = tokenOf(t, await keysHere('rotate', 'ck_live_def456', '--file', file, '--grace', '2h'));
  const afterRotate = readFileSync(file, 'utf8');
  t.ok(afterRotate.startsWith(afterActivate.slice(0, afterActivate.indexOf('  - keyId: ck_live_def456'))), 'rotate: everything before the rotated key unchanged');
  t.same(commentsOf(afterRotate), commentsOf(HAND_WRITTEN), 'rotate: every comment kept');
  t.match(afterRotate, /^ {4}label: reporting service for the quarterly regulatory filings of Secure Corp custody accounts$/m, 'the long label is not re-folded');
  t.match(afterRotate, /^ {8}paths: \["\/v1\/vaults", "\/v1\/vaults\/\*", "\/v1\/reports\/\*\*"\] +# \* = one segment, \*\* = any rest$/m, 'flow sequences keep their style');
  t.match(afterRotate, /^ {6}- methods: \[GET\]$/m, 'flow sequences are not padded');
  t.match(afterRotate, /^ {4}name: "Sandbox \(internal\)"$/m, 'quoted scalars stay quoted');
  t.match(afterRotate, /^ {4}secretHash: '/m, 'single quotes stay single');
  t.match(afterRotate, /^ {4}expiresAt: 2027-06-01T00:00:00Z +# optional, any status$/m, 'timestamps unchanged');

  const created = tokenOf(t, await keysHere('create', '--file', file, '--tenant', 'tnt_sandbox'));
  const afterCreate = readFileSync(file, 'utf8');
  t.ok(afterCreate.startsWith(afterRotate.trimEnd()), 'create: the existing text is kept as it was, the new record appended');
  t.ok(afterCreate.includes(created.keyId) && afterCreate.includes(rotated.keyId));
  t.same(commentsOf(afterCreate), commentsOf(HAND_WRITTEN), 'create: every comment kept');
  const check = parseCredentials(afterCreate);
  t.ok(check.ok, 'the result is a valid document');
});

t.test('writes are atomic: a new inode each time (temp file + rename), nothing left behind', async (t) => {
  const file = basicFile(t);
  const ino0 = statSync(file).ino;
  const r = await keysHere('revoke', 'ck_live_one1', '--file', file);
  t.equal(r.code, 0, r.stderr);
  const ino1 = statSync(file).ino;
  t.not(ino1, ino0, 'revoke replaced the file by rename');
  tokenOf(t, await keysHere('create', '--file', file, '--tenant', 'tnt_one'));
  t.not(statSync(file).ino, ino1, 'create replaced the file by rename');
  t.same(readdirSync(path.dirname(file)), ['credentials.yaml'], 'no temp or lock file left behind');
});

/**
 * A writer process: runKeys (what the bin runs) called `count` times in a row on one file, so that two
 * of them overlap for real instead of by the luck of process start-up times.
 */
const WRITER = `
const [modulePath, file, tenant, tag, count, revokeAt, revokeKey] = process.argv.slice(1);
const { runKeys } = await import(modulePath);
for (let i = 0; i < Number(count); i++) {
  if (i === Number(revokeAt) && (await runKeys(['revoke', revokeKey, '--file', file])) !== 0) process.exit(3);
  if ((await runKeys(['create', '--file', file, '--tenant', tenant, '--label', tag + '-' + i])) !== 0) process.exit(2);
}
`;

t.test('concurrent invocations never lose an update (two writer processes and the bin at once), and a reader only sees whole documents', async (t) => {
  const keysBefore = Array.from({ length: 3 }, (_, i) => ({ keyId: `ck_live_pre${i}`, tenant: 'tnt_one', secret: `sk_live_pre${i}` }));
  const file = basicFile(t, credentialsYaml([{ id: 'tnt_one' }, { id: 'tnt_two' }], keysBefore));
  const modulePath = pathToFileURL(path.join(ROOT, 'dist', 'keys', 'keys-cli.js')).href;
  let reads = 0;
  const torn: string[] = [];
  let reading = true;
  const reader = (async () => {
    while (reading) {
      let text = '';
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        torn.push('(missing)');
      }
      reads++;
      if (text !== '' && !parseCredentials(text).ok) torn.push(text.slice(0, 80));
      if (text === '') torn.push('(empty)');
      await sleep(1);
    }
  })();
  const N = 20;
  const runs = await Promise.all([
    node(['--input-type=module', '-e', WRITER, modulePath, file, 'tnt_one', 'w1', String(N), '5', 'ck_live_pre0']),
    node(['--input-type=module', '-e', WRITER, modulePath, file, 'tnt_two', 'w2', String(N), '12', 'ck_live_pre1']),
    keys('revoke', 'ck_live_pre2', '--file', file),
  ]);
  reading = false;
  await reader;
  for (const r of runs) t.equal(r.code, 0, `every invocation succeeded ${r.stderr}`);
  const printed = runs
    .slice(0, 2)
    .flatMap((r) => r.stdout.trim().split('\n'))
    .map((line) => TOKEN.exec(line))
    .filter((m): m is RegExpExecArray => m !== null);
  t.equal(printed.length, 2 * N, `${2 * N} tokens printed`);
  const recs = records(file);
  t.equal(recs.length, 3 + 2 * N, `all ${2 * N} created records are there, next to the 3 old ones`);
  const lost = printed.filter((m) => recordOf(file, m[1] ?? '')?.secretHash !== hashOf(m[3] ?? ''));
  t.equal(lost.length, 0, 'every printed token has its record and hash in the file');
  const labels = recs.map((r) => r.label).filter((l): l is string => typeof l === 'string');
  t.same(labels.filter((l) => l.startsWith('w1-')), Array.from({ length: N }, (_, i) => `w1-${i}`), 'writer 1: every edit, in order');
  t.same(labels.filter((l) => l.startsWith('w2-')), Array.from({ length: N }, (_, i) => `w2-${i}`), 'writer 2: every edit, in order');
  for (const k of keysBefore) t.equal(recordOf(file, k.keyId)?.status, 'revoked', `the revocation of ${k.keyId} is kept`);
  t.same(torn, [], `${reads} reads during the writes, none of a partial or missing file`);
  t.same(readdirSync(path.dirname(file)), ['credentials.yaml'], 'no temp or lock file left behind');
});

/** The cases below that are usage errors (SPEC §2: exit 2); the rest exit 1. */
const USAGE_ERRORS = new Set([
  'create: no --tenant',
  'create: no --file',
  'create: bad --env',
  'create: bad --status',
  'create: unknown option',
  'rotate: bad --grace',
  'rotate: no key id',
  'revoke: two key ids',
  'unknown subcommand',
  'bin: rotate, bad --grace',
]);

t.test('every error: one line on stderr, exit 2 for usage errors and 1 otherwise, nothing on stdout, the file untouched', async (t) => {
  const dir = scratch(t);
  const file = path.join(dir, 'credentials.yaml');
  const rotatedDoc = credentialsYaml(
    [{ id: 'tnt_one' }],
    [
      { keyId: 'ck_live_act', tenant: 'tnt_one', secret: 's1' },
      { keyId: 'ck_live_rev', tenant: 'tnt_one', secret: 's2', status: 'revoked' },
      { keyId: 'ck_live_rot', tenant: 'tnt_one', secret: 's3', status: 'rotated', graceUntil: '2030-01-01T00:00:00Z' },
    ],
  );
  writeFileSync(file, rotatedDoc);
  const invalid = path.join(dir, 'invalid.yaml');
  writeFileSync(invalid, stringify({ tenants: [{ id: 'tnt_one', ipAllowList: ['300.1.1.1'] }], credentials: [] }));
  const broken = path.join(dir, 'broken.yaml');
  writeFileSync(broken, 'tenants: [\n');
  const snap = (f: string): string => {
    const s = statSync(f);
    return `${s.ino}:${s.mtimeMs}:${readFileSync(f, 'utf8')}`;
  };
  const before = new Map([file, invalid, broken].map((f) => [f, snap(f)]));
  // [what, args, what the line says]; usage errors (exit 2) are marked, every other error exits 1
  const cases: Array<[string, string[], RegExp]> = [
    ['create: unknown tenant', ['create', '--file', file, '--tenant', 'tnt_nope'], /tnt_nope/],
    ['create: no --tenant', ['create', '--file', file], /--tenant/],
    ['create: no --file', ['create', '--tenant', 'tnt_one'], /--file/],
    ['create: bad --env', ['create', '--file', file, '--tenant', 'tnt_one', '--env', 'prod'], /env/],
    ['create: bad --status', ['create', '--file', file, '--tenant', 'tnt_one', '--status', 'revoked'], /status/],
    ['create: unknown option', ['create', '--file', file, '--tenant', 'tnt_one', '--colour', 'red'], /colour/],
    ['create: invalid document', ['create', '--file', invalid, '--tenant', 'tnt_one'], /300\.1\.1\.1|ipAllowList/],
    ['create: YAML syntax error', ['create', '--file', broken, '--tenant', 'tnt_one'], /broken\.yaml/],
    ['create: missing file', ['create', '--file', path.join(dir, 'absent.yaml'), '--tenant', 'tnt_one'], /absent\.yaml/],
    ['create: missing folder', ['create', '--file', path.join(dir, 'no', 'such', 'c.yaml'), '--tenant', 'tnt_one'], /c\.yaml|ENOENT/],
    ['rotate: unknown key', ['rotate', 'ck_live_nope', '--file', file], /ck_live_nope/],
    ['rotate: a revoked key', ['rotate', 'ck_live_rev', '--file', file], /ck_live_rev/],
    ['rotate: an already rotated key', ['rotate', 'ck_live_rot', '--file', file], /ck_live_rot/],
    ['rotate: bad --grace', ['rotate', 'ck_live_act', '--file', file, '--grace', '1w'], /grace/],
    ['rotate: no key id', ['rotate', '--file', file], /KEYID/],
    ['activate: a revoked key', ['activate', 'ck_live_rev', '--file', file], /revoked/],
    ['revoke: unknown key', ['revoke', 'ck_live_nope', '--file', file], /ck_live_nope/],
    ['revoke: two key ids', ['revoke', 'ck_live_act', 'ck_live_rot', '--file', file], /KEYID/],
    ['revoke: invalid document', ['revoke', 'ck_live_act', '--file', invalid], /invalid\.yaml/],
    ['list: invalid document', ['list', '--file', invalid], /invalid\.yaml/],
    ['unknown subcommand', ['frobnicate', '--file', file], /frobnicate/],
  ];
  const runs: Run[] = [];
  for (const [, args] of cases) runs.push(await keysHere(...args));
  // and two through the real bin: the exit code and the stderr line are the process's own
  const viaBin: Array<[string, string[], RegExp]> = [
    ['bin: create, unknown tenant', ['create', '--file', file, '--tenant', 'tnt_nope'], /tnt_nope/],
    ['bin: rotate, bad --grace', ['rotate', 'ck_live_act', '--file', file, '--grace', '1w'], /grace/],
  ];
  runs.push(...(await Promise.all(viaBin.map(([, args]) => keys(...args)))));
  cases.push(...viaBin);
  cases.forEach(([name, , message], i) => {
    const r = runs[i];
    if (!r) return;
    t.equal(r.code, USAGE_ERRORS.has(name) ? 2 : 1, `${name}: exit ${USAGE_ERRORS.has(name) ? '2 (usage error)' : 1}`);
    t.equal(r.stdout, '', `${name}: nothing on stdout`);
    t.match(r.stderr, /^[^\n]+\n$/, `${name}: exactly one line on stderr: ${JSON.stringify(r.stderr)}`);
    t.match(r.stderr, message, `${name}: the line says what is wrong`);
  });
  for (const [f, s] of before) t.equal(snap(f), s, `${path.basename(f)} untouched (same inode, mtime and bytes)`);
  t.same(readdirSync(dir).sort(), ['broken.yaml', 'credentials.yaml', 'invalid.yaml'], 'no file created, no temp or lock left');
});

t.test('check validates the config and the credentials document the CLI edits', async (t) => {
  const dir = scratch(t);
  writeFileSync(path.join(dir, 'custody-proxy.yaml'), stringify({ upstream: { url: 'http://127.0.0.1:9' }, credentials: { file: 'credentials.yaml' } }));
  const file = path.join(dir, 'credentials.yaml');
  writeFileSync(file, BASIC);
  tokenOf(t, await keysHere('create', '--file', file, '--tenant', 'tnt_two'));
  tokenOf(t, await keysHere('rotate', 'ck_live_one1', '--file', file));
  const ok = await cli(['check', '--config', path.join(dir, 'custody-proxy.yaml')]);
  t.equal(ok.code, 0, `check passes after the edits: ${ok.stderr}`);
  t.match(ok.stdout, /2 tenants, 4 credentials/);
  writeFileSync(file, readFileSync(file, 'utf8').replace('tenant: tnt_two', 'tenant: tnt_three'));
  const bad = await cli(['check', '--config', path.join(dir, 'custody-proxy.yaml')]);
  t.equal(bad.code, 1, 'check fails on a hand-broken document');
  t.match(bad.stderr, /^credentials\[\d\]\.tenant: .*tnt_three/m, 'with the problem as path: message');
});

t.test('end to end against a running proxy', async (t) => {
  const upstream: RecordingUpstream = await startUpstream();
  t.teardown(() => upstream.close());
  const proxy: TestProxy = await startProxy({ upstreamUrl: upstream.url, credentialsYaml: BASIC });
  t.teardown(() => proxy.close());
  const file = path.join(proxy.dir, 'credentials.yaml');
  const statusOf = async (token: string): Promise<number> =>
    (await request(proxy.url, { path: '/v1/vaults', headers: [['Authorization', `Bearer ${token}`]] })).status;
  async function waitFor(check: () => Promise<boolean>, timeoutMs = 3000): Promise<number | undefined> {
    const t0 = performance.now();
    for (;;) {
      if (await check()) return performance.now() - t0;
      if (performance.now() - t0 > timeoutMs) return undefined;
      await sleep(50);
    }
  }

  t.test('a created key authenticates end to end within 2 s; a provisioned one only once activated', async (t) => {
    const k = tokenOf(t, await keys('create', '--file', file, '--tenant', 'tnt_one'));
    const ms = await waitFor(async () => (await statusOf(k.token)) === 200);
    t.ok(ms !== undefined && ms < TAKES_EFFECT_MS, `the new key works after ${ms?.toFixed(0)} ms`);
    const seen = upstream.requests.at(-1);
    t.equal(seen?.headers['x-tenant-id'], 'tnt_one', 'stamped with its tenant');
    t.equal(seen?.headers['x-credential-id'], k.keyId);

    const p = tokenOf(t, await keysHere('create', '--file', file, '--tenant', 'tnt_two', '--status', 'provisioned'));
    await waitFor(async () => proxy.app.registry.current?.byKeyId.has(p.keyId) === true);
    t.equal(await statusOf(p.token), 401, 'provisioned → 401');
    const a = await keysHere('activate', p.keyId, '--file', file);
    t.equal(a.code, 0, a.stderr);
    const act = await waitFor(async () => (await statusOf(p.token)) === 200);
    t.ok(act !== undefined && act < TAKES_EFFECT_MS, `activated → 200 after ${act?.toFixed(0)} ms`);
  });

  t.test('revoke through the CLI while the proxy runs → 401 within 2 s of the CLI finishing', async (t) => {
    const k = tokenOf(t, await keysHere('create', '--file', file, '--tenant', 'tnt_one'));
    t.ok((await waitFor(async () => (await statusOf(k.token)) === 200)) !== undefined, 'the key works first');
    const r = await keys('revoke', k.keyId, '--file', file);
    t.equal(r.code, 0, r.stderr);
    const ms = await waitFor(async () => (await statusOf(k.token)) === 401);
    t.ok(ms !== undefined && ms < TAKES_EFFECT_MS, `401 after ${ms?.toFixed(0)} ms`);
    t.equal(recordOf(file, k.keyId)?.status, 'revoked');
  });

  t.test('rotate with a short grace: both keys work, then only the new one', async (t) => {
    const old = tokenOf(t, await keysHere('create', '--file', file, '--tenant', 'tnt_two'));
    t.ok((await waitFor(async () => (await statusOf(old.token)) === 200)) !== undefined, 'the old key works');
    const fresh = tokenOf(t, await keys('rotate', old.keyId, '--file', file, '--grace', '4s'));
    const rec = recordOf(file, old.keyId);
    t.equal(rec?.status, 'rotated');
    const graceUntil = Date.parse(rec?.graceUntil ?? '');
    t.ok(graceUntil > Date.now() + 1000 && graceUntil <= Date.now() + 4000, `graceUntil ≈ now + 4 s (${rec?.graceUntil})`);
    t.match(recordOf(file, fresh.keyId), { tenant: 'tnt_two', status: 'active' }, 'the new key: same tenant, active');
    const ms = await waitFor(async () => (await statusOf(fresh.token)) === 200);
    t.ok(ms !== undefined && ms < TAKES_EFFECT_MS, `the new key works after ${ms?.toFixed(0)} ms`);
    t.ok(Date.now() < graceUntil, 'still inside the grace period');
    t.equal(await statusOf(old.token), 200, 'during grace: the old key still works');
    t.equal(await statusOf(fresh.token), 200, 'during grace: the new key works');
    await sleep(Math.max(0, graceUntil - Date.now() + 100));
    t.equal(await statusOf(old.token), 401, 'after grace: the old key → 401');
    t.equal(await statusOf(fresh.token), 200, 'after grace: the new key still works');
  });

  t.test('rotate without --grace: 24 h', async (t) => {
    const old = tokenOf(t, await keysHere('create', '--file', file, '--tenant', 'tnt_one', '--label', 'lbl'));
    const t0 = Date.now();
    const fresh = tokenOf(t, await keysHere('rotate', old.keyId, '--file', file));
    const graceUntil = Date.parse(recordOf(file, old.keyId)?.graceUntil ?? '');
    const day = 24 * 3600 * 1000;
    t.ok(graceUntil >= t0 + day - 2000 && graceUntil <= Date.now() + day, 'graceUntil = now + 24 h');
    t.equal(recordOf(file, fresh.keyId)?.label, 'lbl', 'the new key keeps the label');
  });
});

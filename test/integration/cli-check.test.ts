// SPEC §2 rev 2 `custody-proxy check`: everything `serve` needs before it serves. Each problem keeps
// `path: message` and names its file and, for YAML, line:column (`path: message (at FILE:LINE:COL)`);
// the token files serve reads must be readable and non-empty (serve refuses to start otherwise);
// warnings are printed apart (`warning: …`, after the problems) and never change the exit code.
// main() runs in this process: no Node start-up per case.
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../src/cli.js';
import { ROOT, inProcess, type CliRun } from '../helpers/cli-run.js';
import { credentialsYaml } from '../helpers/credentials.js';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'cli');
const CREDS = credentialsYaml([{ id: 'tnt_one' }], [{ keyId: 'ck_live_one', tenant: 'tnt_one', secret: 'sk_live_one' }]);

const check = (config: string): Promise<CliRun> => inProcess(main, ['check', '--config', config]);
const lines = (text: string): string[] => text.split('\n').filter((l) => l !== '');

/** A folder with custody-proxy.yaml (the given text), credentials.yaml and any other files. */
function folder(t: Test, config: string, files: Record<string, string> = {}): { dir: string; config: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'custody-proxy-check-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'credentials.yaml'), CREDS);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  writeFileSync(path.join(dir, 'custody-proxy.yaml'), config);
  return { dir, config: path.join(dir, 'custody-proxy.yaml') };
}

t.test('config problems: path: message, the config file, and the line:column of the value (or of an unknown key)', async (t) => {
  const file = path.join(FIXTURES, 'bad-config', 'custody-proxy.yaml');
  const r = await check(file);
  t.equal(r.code, 1);
  t.same(lines(r.stderr), [
    `listen: invalid listen address "nowhere" (use host:port) (at ${file}:2:9)`,
    `upstream.tiemout: unknown key (at ${file}:7:3)`,
    `trustedProxies[0]: invalid IP address or CIDR "1.2.3" (at ${file}:8:18)`,
    `idempotency.ttl: invalid duration "1w" (use e.g. 500ms, 30s, 5m, 24h, 7d) (at ${file}:10:8)`,
    `idempotency.maxRequestBytes: invalid size "1MB" (use e.g. 512KiB, 1MiB) (at ${file}:11:20)`,
  ]);
  t.equal(r.stdout, '');
});

t.test('credentials problems name the credentials file and their line:column', async (t) => {
  const file = path.join(FIXTURES, 'bad-credentials', 'credentials.yaml');
  const r = await check(path.join(FIXTURES, 'bad-credentials', 'custody-proxy.yaml'));
  t.equal(r.code, 1);
  const got = lines(r.stderr);
  for (const expected of [
    `tenants[0].ipAllowList[1]: invalid IP address or CIDR "010.0.0.1" (at ${file}:4:33)`,
    `tenants[1].id: duplicate tenant id "tnt_a" (at ${file}:5:9)`,
    `credentials[1].tenant: unknown tenant "tnt_missing" (at ${file}:12:13)`,
    `credentials[1].colour: unknown key (at ${file}:15:5)`,
  ]) {
    t.ok(got.includes(expected), `${expected}\nin:\n${r.stderr}`);
  }
  t.equal(got.length, 5, 'the five problems');
});

t.test('a YAML syntax error, a missing required key and a missing document are located too', async (t) => {
  const syntax = folder(t, 'listen: 127.0.0.1:0\nadmin: [oops\n');
  const r = await check(syntax.config);
  t.equal(r.code, 1);
  t.match(r.stderr, new RegExp(`^\\(yaml\\): [^\\n]+ \\(at ${syntax.config}:\\d+:\\d+\\)$`, 'm'), r.stderr);

  const creds = folder(t, 'credentials:\n  file: creds.yaml\n', { 'creds.yaml': 'tenants:\n  - name: no id\ncredentials: []\n' });
  const missing = await check(creds.config);
  t.equal(missing.code, 1);
  t.same(lines(missing.stderr), [`tenants[0].id: required (at ${path.join(creds.dir, 'creds.yaml')}:2:5)`], 'a missing key points at its parent');

  const absent = folder(t, 'upstream: { url: "http://127.0.0.1:9" }\ncredentials:\n  file: absent.yaml\n');
  const gone = await check(absent.config);
  t.equal(gone.code, 1);
  t.same(lines(gone.stderr), [`credentials.file: cannot read "${path.join(absent.dir, 'absent.yaml')}": ENOENT (at ${absent.config}:3:9)`]);
});

t.test('admin.tokenFile: missing or empty fails the check (serve would not start), readable passes', async (t) => {
  const cases: ReadonlyArray<readonly [string, Record<string, string>, number, RegExp | undefined]> = [
    ['missing', {}, 1, /^admin\.tokenFile: cannot read token file "[^"]*admin-token": ENOENT \(at [^\n]*custody-proxy\.yaml:3:14\)$/m],
    ['empty', { 'admin-token': '\n' }, 1, /^admin\.tokenFile: token file "[^"]*admin-token" is empty \(at [^\n]*custody-proxy\.yaml:3:14\)$/m],
    ['readable', { 'admin-token': 'adm_token\n' }, 0, undefined],
  ];
  for (const [name, files, code, problem] of cases) {
    const f = folder(t, 'admin:\n  listen: 127.0.0.1:0\n  tokenFile: admin-token\n', files);
    const r = await check(f.config);
    t.equal(r.code, code, `${name}: exit ${code} (${r.stderr.trim()})`);
    if (problem) t.match(r.stderr, problem, `${name}: path, message, file and line`);
    else t.match(r.stdout, /^ok: .*\(1 tenants, 1 credentials\)\n$/, `${name}: ok`);
    t.notMatch(r.stderr + r.stdout, 'adm_token', 'the token is never printed');
  }
});

t.test('a control endpoint: not fetched, but its token file must be readable', async (t) => {
  const config = 'credentials:\n  url: https://control.invalid/credentials\n  tokenFile: control-token\n';
  const without = await check(folder(t, config).config);
  t.equal(without.code, 1);
  t.match(without.stderr, /^credentials\.tokenFile: cannot read token file [^\n]*ENOENT \(at [^\n]*:3:14\)$/m);
  const withToken = await check(folder(t, config, { 'control-token': 'ctl\n' }).config);
  t.equal(withToken.code, 0, withToken.stderr);
  t.match(withToken.stdout, /credentials from https:\/\/control\.invalid, not fetched/);
});

t.test('warnings are apart from problems, after them, and never change the exit code', async (t) => {
  // credentials.tokenFile is read only for a control endpoint: beside a file it is a harmless leftover.
  const leftover = 'credentials:\n  file: credentials.yaml\n  tokenFile: control-token\n';
  const alone = folder(t, leftover);
  const ok = await check(alone.config);
  t.equal(ok.code, 0, 'a warning alone: still valid');
  t.match(ok.stdout, /^ok: /);
  t.same(lines(ok.stderr), [`warning: credentials.tokenFile: only used with credentials.url; serve does not read it with credentials.file (at ${alone.config}:3:14)`]);

  const both = await check(folder(t, `admin:\n  tokenFile: absent-token\n${leftover}`).config);
  t.equal(both.code, 1, 'the problem decides the exit code');
  const got = lines(both.stderr);
  t.equal(got.length, 2);
  t.match(got[0], /^admin\.tokenFile: /, 'the problem first');
  t.match(got[1], /^warning: credentials\.tokenFile: /, 'then the warning');
});

t.test('every problem of every file at once: the token file and the credentials document', async (t) => {
  const f = folder(t, 'admin:\n  tokenFile: absent-token\ncredentials:\n  file: creds.yaml\n', { 'creds.yaml': 'tenants: []\ncredentials: 3\n' });
  const r = await check(f.config);
  t.equal(r.code, 1);
  const got = lines(r.stderr);
  t.equal(got.length, 2, r.stderr);
  t.match(got[0], /^admin\.tokenFile: .*custody-proxy\.yaml:2:14\)$/);
  t.match(got[1], /^credentials: .*creds\.yaml:2:14\)$/);
});

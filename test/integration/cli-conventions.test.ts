// SPEC §2 rev 2 CLI conventions: `--version` (the package's version on stdout, exit 0), `--help`/`-h`
// on every command and subcommand (its own usage on stdout, exit 0, even when its required arguments
// are missing), and exit codes: every usage error exits 2 with one line on stderr and nothing on
// stdout; any other failure exits 1. Mostly main() in this process; the bin where the exit code and
// streams are the process's own.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../src/cli.js';
import { ROOT, inProcess, runBin, type CliRun } from '../helpers/cli-run.js';
import { credentialsYaml } from '../helpers/credentials.js';

t.setTimeout(120_000);

const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const cli = (...args: string[]): Promise<CliRun> => inProcess(main, args);

const dir = mkdtempSync(path.join(tmpdir(), 'custody-proxy-conventions-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const CREDS = path.join(dir, 'credentials.yaml');
writeFileSync(CREDS, credentialsYaml([{ id: 'tnt_one' }], [{ keyId: 'ck_live_one', tenant: 'tnt_one', secret: 'sk_live_one' }]));
const MISSING = path.join(dir, 'absent.yaml');

/** Every command and subcommand, as typed before --help. */
const COMMANDS: readonly string[][] = [
  ['serve'],
  ['check'],
  ['keys'],
  ['keys', 'create'],
  ['keys', 'rotate'],
  ['keys', 'activate'],
  ['keys', 'revoke'],
  ['keys', 'list'],
  ['keys', 'prune'],
  ['tenants'],
  ['tenants', 'add'],
  ['tenants', 'set-allowlist'],
  ['tenants', 'list'],
  ['schema'],
  ['store'],
  ['store', 'ack-loss'],
];

t.test('--help and -h on every command: its own usage on stdout, exit 0, nothing on stderr', async (t) => {
  for (const command of COMMANDS) {
    for (const flag of ['--help', '-h']) {
      const r = await cli(...command, flag);
      const name = `${command.join(' ')} ${flag}`;
      t.equal(r.code, 0, `${name}: exit 0`);
      t.equal(r.stderr, '', `${name}: nothing on stderr`);
      t.ok(r.stdout.startsWith(`usage: custody-proxy ${command.join(' ')} `), `${name}: its own usage first:\n${r.stdout}`);
    }
  }
  const rotate = await cli('keys', 'rotate', '--help');
  t.match(rotate.stdout, /--grace DURATION/, 'a command\'s help lists its options');
  const before = readFileSync(CREDS, 'utf8');
  const create = await cli('keys', 'create', '--file', CREDS, '--tenant', 'tnt_one', '--help');
  t.equal(create.code, 0, 'help wins over running the command');
  t.notMatch(create.stdout, /ck_live_/, 'no token printed');
  t.equal(readFileSync(CREDS, 'utf8'), before, 'no key was created');
});

t.test('bare --help lists every command', async (t) => {
  for (const flag of ['--help', '-h', 'help']) {
    const r = await cli(flag);
    t.equal(r.code, 0, `${flag}: exit 0`);
    for (const command of ['serve', 'check', 'keys', 'tenants', 'schema', 'store ack-loss', '--version']) t.match(r.stdout, command, `${flag} lists ${command}`);
  }
});

/** Usage errors: [what, args, what the line must mention]. */
const USAGE_ERRORS: ReadonlyArray<readonly [string, string[], RegExp]> = [
  ['no command', [], /command/],
  ['unknown command', ['frobnicate'], /frobnicate/],
  ['unknown top-level option', ['--frobnicate'], /--frobnicate/],
  ['serve: unknown flag', ['serve', '--bogus'], /--bogus/],
  ['serve: an argument', ['serve', 'extra'], /extra/],
  ['check: --config without its value', ['check', '--config'], /--config/],
  ['keys: no subcommand', ['keys'], /create/],
  ['keys: unknown subcommand', ['keys', 'frobnicate'], /frobnicate/],
  ['keys create: no --tenant', ['keys', 'create', '--file', CREDS], /--tenant/],
  ['keys create: bad --env', ['keys', 'create', '--file', CREDS, '--tenant', 'tnt_one', '--env', 'prod'], /--env/],
  ['keys create: unknown flag', ['keys', 'create', '--file', CREDS, '--tenant', 'tnt_one', '--colour', 'red'], /--colour/],
  ['keys rotate: no KEYID', ['keys', 'rotate', '--file', CREDS], /KEYID/],
  ['keys rotate: bad --grace', ['keys', 'rotate', 'ck_live_one', '--file', CREDS, '--grace', '1w'], /--grace/],
  ['keys revoke: two KEYIDs', ['keys', 'revoke', 'ck_live_one', 'ck_live_two', '--file', CREDS], /ck_live_two/],
  ['keys activate: no --file', ['keys', 'activate', 'ck_live_one'], /--file/],
  ['keys list: an argument', ['keys', 'list', 'x', '--file', CREDS], /"x"/],
  ['schema: no document', ['schema'], /DOCUMENT/],
  ['schema: unknown document', ['schema', 'values'], /"values".*config or credentials/],
  ['schema: two documents', ['schema', 'config', 'credentials'], /"credentials"/],
  ['store: no subcommand', ['store'], /ack-loss/],
  ['store ack-loss: unknown flag', ['store', 'ack-loss', '--bogus'], /--bogus/],
];

t.test('every usage error: exit 2, one line on stderr naming the problem, nothing on stdout', async (t) => {
  const before = readFileSync(CREDS, 'utf8');
  for (const [name, args, mentions] of USAGE_ERRORS) {
    const r = await cli(...args);
    t.equal(r.code, 2, `${name}: exit 2`);
    t.match(r.stderr, /^[^\n]+\n$/, `${name}: one line on stderr: ${JSON.stringify(r.stderr)}`);
    t.match(r.stderr, mentions, `${name}: says what is wrong`);
    t.equal(r.stdout, '', `${name}: nothing on stdout`);
  }
  t.equal(readFileSync(CREDS, 'utf8'), before, 'the document is untouched');
});

t.test('other failures exit 1', async (t) => {
  const cases: ReadonlyArray<readonly [string, string[]]> = [
    ['check: a missing config', ['check', '--config', MISSING]],
    ['keys revoke: an unknown key', ['keys', 'revoke', 'ck_live_nope', '--file', CREDS]],
    ['keys list: a missing document', ['keys', 'list', '--file', MISSING]],
    ['store ack-loss: a missing config', ['store', 'ack-loss', '--config', MISSING]],
  ];
  for (const [name, args] of cases) {
    const r = await cli(...args);
    t.equal(r.code, 1, `${name}: exit 1 (${r.stderr.trim()})`);
    t.match(r.stderr, /absent\.yaml|ck_live_nope/, `${name}: says what failed`);
  }
});

t.test('the real bin: --version, a usage error and a failure are the process\'s own exit codes and streams', async (t) => {
  t.ok(existsSync(path.join(ROOT, 'dist', 'cli.js')), 'dist/ is built (npm run build)');
  const [version, help, usage, failed] = await Promise.all([
    runBin(['--version']),
    runBin(['keys', 'rotate', '--help']),
    runBin(['keys', 'rotate', '--file', CREDS]),
    runBin(['check', '--config', MISSING]),
  ]);
  t.equal(version.code, 0);
  t.equal(version.stdout, `${VERSION}\n`, 'the package version, alone, on stdout');
  t.equal(version.stderr, '');
  t.equal(help.code, 0);
  t.match(help.stdout, /^usage: custody-proxy keys rotate KEYID/);
  t.equal(usage.code, 2);
  t.match(usage.stderr, /^custody-proxy keys rotate: [^\n]*KEYID[^\n]*\n$/);
  t.equal(failed.code, 1);
  t.match(failed.stderr, 'absent.yaml');
});

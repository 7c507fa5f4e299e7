// The edit lock and symlinks (SPEC §2: CREDS rewritten atomically; issue 18): a symlinked CREDS is
// edited through the link; a lock left by a crashed invocation is taken over at once by exactly one
// of several invocations, two real processes racing for it lose no update.
import t, { type Test } from 'tap';
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import { credentialsYaml } from '../helpers/credentials.js';
import { ROOT, inProcess } from '../helpers/cli-run.js';
import { runKeys } from '../../src/keys/keys-cli.js';
import { acquireLock, breakStaleLock } from '../../src/keys/edit-lock.js';

t.setTimeout(120_000);

const DOC = credentialsYaml([{ id: 'tnt_one' }], [{ keyId: 'ck_live_one', tenant: 'tnt_one', secret: 's' }]);

function scratch(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'custody-proxy-lock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A pid that existed and has exited: what a crashed invocation leaves in its lock. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  if (r.pid === undefined) throw new Error('no child');
  return r.pid;
}

const keyIds = (f: string): string[] => (parse(readFileSync(f, 'utf8')) as { credentials: Array<{ keyId: string }> }).credentials.map((c) => c.keyId);

t.test('a symlinked CREDS is edited through the link: the link stays, its target is replaced atomically', async (t) => {
  const dir = scratch(t);
  mkdirSync(path.join(dir, 'secret'));
  const target = path.join(dir, 'secret', 'credentials.yaml');
  writeFileSync(target, DOC, { mode: 0o640 });
  const link = path.join(dir, 'credentials.yaml');
  symlinkSync(path.join('secret', 'credentials.yaml'), link);
  const ino = statSync(target).ino;
  const r = await inProcess(runKeys, ['create', '--file', link, '--tenant', 'tnt_one']);
  t.equal(r.code, 0, r.stderr);
  t.ok(lstatSync(link).isSymbolicLink(), 'the link is still a link');
  t.equal(readlinkSync(link), path.join('secret', 'credentials.yaml'), 'pointing where it did');
  t.not(statSync(target).ino, ino, 'the target was replaced by rename');
  t.equal(statSync(target).mode & 0o777, 0o640, 'with its mode');
  t.equal(keyIds(target).length, 2, 'the new key is in the target');
  t.same(readdirSync(dir).sort(), ['credentials.yaml', 'secret'], 'nothing left beside the link');
  t.same(readdirSync(path.join(dir, 'secret')), ['credentials.yaml'], 'nor beside the target');
});

t.test('a stale lock is broken by exactly one invocation, which a late one cannot then break again', async (t) => {
  const lock = path.join(scratch(t), 'credentials.yaml.lock');
  const stale = `${hostname()} ${deadPid()} 0123456789abcdef\n`;
  writeFileSync(lock, stale);
  writeFileSync(`${lock}.break-0123456789abcdef`, '');
  t.notOk(breakStaleLock(lock, stale), 'while another invocation is breaking it, it is left to that one');
  t.equal(readFileSync(lock, 'utf8'), stale);
  rmSync(`${lock}.break-0123456789abcdef`);
  t.ok(breakStaleLock(lock, stale), 'the first to see it stale breaks it');
  const release = acquireLock(lock);
  const mine = readFileSync(lock, 'utf8');
  t.not(mine, stale, 'and takes the lock');
  t.notOk(breakStaleLock(lock, stale), 'an invocation that saw the same stale lock earlier does not break the new one');
  t.equal(readFileSync(lock, 'utf8'), mine, 'the holder keeps it');
  release();
  t.notOk(existsSync(lock), 'released');
  t.same(readdirSync(path.dirname(lock)), [], 'no breaker or temp file left');
});

t.test('a free lock is left to the live invocation whose turn it is; a turn whose owner is gone is broken', async (t) => {
  const lock = path.join(scratch(t), 'credentials.yaml.lock');
  writeFileSync(`${lock}.next`, `${hostname()} ${process.pid} 00112233aabbccdd\n`);
  t.throws(() => acquireLock(lock, 400), { name: 'LockError' }, 'not taken while another live invocation has the next turn');
  t.notOk(existsSync(lock), 'the lock stayed free for it');
  writeFileSync(`${lock}.next`, `${hostname()} ${deadPid()} 00112233aabbccdd\n`);
  const release = acquireLock(lock, 400);
  t.ok(existsSync(lock), 'taken once the turn\'s owner is gone');
  t.notOk(existsSync(`${lock}.next`), 'and the dead owner\'s turn removed');
  release();
  t.same(readdirSync(path.dirname(lock)), [], 'nothing left');
});

const WRITER = `
const [modulePath, file, tag, count] = process.argv.slice(1);
const { runKeys } = await import(modulePath);
for (let i = 0; i < Number(count); i++) {
  if ((await runKeys(['create', '--file', file, '--tenant', 'tnt_one', '--label', tag + '-' + i])) !== 0) process.exit(2);
}
`;

/** `node -e SCRIPT <dist/keys/MODULE as a URL> ...args` as an ES module, without tap's loader hooks. */
function moduleScript(script: string, module: string, args: readonly string[]): ChildProcessByStdio<null, Readable, Readable> {
  const modulePath = pathToFileURL(path.join(ROOT, 'dist', 'keys', module)).href;
  const env = { ...process.env };
  delete env['NODE_OPTIONS'];
  return spawn(process.execPath, ['--input-type=module', '-e', script, modulePath, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
}

function writer(file: string, tag: string, count: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = moduleScript(WRITER, 'keys-cli.js', [file, tag, String(count)]);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

t.test('two real processes start against a crashed invocation\'s lock: one takes it over at once, no update is lost', async (t) => {
  if (!existsSync(path.join(ROOT, 'dist', 'keys', 'edit-lock.js'))) throw new Error('dist/ is stale: run `npm run build` first');
  const dir = scratch(t);
  const file = path.join(dir, 'credentials.yaml');
  writeFileSync(file, DOC);
  // fresh (an age-only check would wait 30 s for it), from a pid that no longer runs
  writeFileSync(`${file}.lock`, `${hostname()} ${deadPid()} fedcba9876543210\n`);
  const N = 10;
  const t0 = Date.now();
  const runs = await Promise.all([writer(file, 'a', N), writer(file, 'b', N)]);
  for (const r of runs) t.equal(r.code, 0, `the writer succeeded ${r.stderr}`);
  t.ok(Date.now() - t0 < 9000, `without waiting out the stale lock (${Date.now() - t0} ms)`);
  const printed = runs.flatMap((r) => r.stdout.trim().split('\n')).map((l) => l.split(':')[0]);
  t.equal(printed.length, 2 * N);
  t.same(keyIds(file).sort(), ['ck_live_one', ...printed].sort(), 'every printed key is in the file');
  t.same(readdirSync(dir), ['credentials.yaml'], 'no lock, breaker or temp file left');
});

// Takes the lock again the moment it has released it, holding it 300 ms each time, for at most 5 s;
// prints "holding" once it first has it.
const GREEDY = `
import { setTimeout as sleep } from 'node:timers/promises';
const [modulePath, lock] = process.argv.slice(1);
const { acquireLock } = await import(modulePath);
const end = Date.now() + 5000;
let first = true;
while (Date.now() < end) {
  const release = acquireLock(lock, 5000);
  if (first) { process.stdout.write('holding\\n'); first = false; }
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
  release();
}
`;

t.test('a waiter gets its turn from a holder that takes the lock again the moment it is free', async (t) => {
  if (!existsSync(path.join(ROOT, 'dist', 'keys', 'edit-lock.js'))) throw new Error('dist/ is stale: run `npm run build` first');
  const lock = path.join(scratch(t), 'credentials.yaml.lock');
  const greedy = moduleScript(GREEDY, 'edit-lock.js', [lock]);
  greedy.stderr.pipe(process.stderr);
  const exited = new Promise<number | null>((resolve) => greedy.on('close', resolve));
  t.teardown(() => {
    if (greedy.pid !== undefined && greedy.exitCode === null) process.kill(greedy.pid, 'SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    greedy.stdout.setEncoding('utf8').on('data', (c: string) => c.includes('holding') && resolve());
    greedy.on('close', () => reject(new Error('the greedy holder exited before holding the lock')));
  });
  const t0 = Date.now();
  let release: (() => void) | undefined;
  // Without turns it would need to poll in the instant between a release and the next take (about
  // one poll in hundreds does).
  t.doesNotThrow(() => (release = acquireLock(lock, 2500)), 'the waiter got the lock within its 2.5 s');
  t.ok(Date.now() - t0 < 2500, `after ${Date.now() - t0} ms`);
  t.notOk(existsSync(`${lock}.next`), 'its claim on the next turn is gone once it holds the lock');
  release?.();
  t.equal(await exited, 0, 'the holder went on taking the lock afterwards, and ended cleanly');
});

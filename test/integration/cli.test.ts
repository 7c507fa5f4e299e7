// The real `custody-proxy` bin (SPEC §2, §3, §8, §12), spawned with process.execPath: `check` exit codes
// and `path: message` problems for bad configs and credentials documents, $CUSTODY_PROXY_CONFIG,
// `serve` refusing bad input, and a full `serve` run: JSON listening line, one proxied request,
// exit 0 on SIGTERM. The bin imports dist/: run `npm run build` first (`npm test` does it via pretest).
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startUpstream } from '../helpers/recording-upstream.js';
import { request } from '../helpers/http-client.js';
import { waitForListening } from '../helpers/spawn-proxy.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'custody-proxy.js');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'cli');
const GOOD = path.join(FIXTURES, 'good', 'custody-proxy.yaml');
const BAD_CONFIG = path.join(FIXTURES, 'bad-config', 'custody-proxy.yaml');
const BAD_CREDENTIALS = path.join(FIXTURES, 'bad-credentials', 'custody-proxy.yaml');
const KEY = { keyId: 'ck_test_cli', secret: 'sk_test_cli_secret' };

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

function scratchDir(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'custody-proxy-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CP_TEST_UPSTREAM_URL: 'http://127.0.0.1:9', ...extra };
  if (!('CUSTODY_PROXY_CONFIG' in extra)) delete env['CUSTODY_PROXY_CONFIG'];
  delete env['NODE_OPTIONS'];
  return env;
}

function spawnCli(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs the bin to completion; a run longer than timeoutMs is killed (by its own PID) and fails. */
function runCli(t: Test, args: readonly string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<Run> {
  const child = spawnCli(args, opts.cwd ?? scratchDir(t), childEnv(opts.env));
  return collect(child, opts.timeoutMs ?? 60_000);
}

function collect(child: ChildProcess, timeoutMs: number): Promise<Run> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
      reject(new Error(`custody-proxy did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const lines = (text: string): string[] => text.split('\n').filter((l) => l.trim() !== '');

/** Every stderr line is a `path: message` problem; the given paths are among them. */
function expectProblems(t: Test, stderr: string, expected: ReadonlyArray<readonly [string, RegExp | string]>): void {
  const got = lines(stderr);
  for (const [at, message] of expected) {
    const hits = got.filter((l) => l.startsWith(`${at}: `));
    t.equal(hits.length, 1, `one problem at ${at} on stderr:\n${stderr}`);
    t.match(hits[0] ?? '', message, `${at} says what is wrong`);
  }
}

// Each case starts a Node process; on a loaded machine that takes seconds, so the file gets more time
// than the default (every wait inside is still bounded by its own timeout).
t.setTimeout(300_000);

t.before(() => {
  if (!existsSync(path.join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/ is missing: run `npm run build` first');
});

t.test('check: a valid config and credentials document → exit 0', async (t) => {
  const r = await runCli(t, ['check', '--config', GOOD]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, '', 'nothing on stderr');
});

/** Every problem in BAD_CONFIG, as `check` and `serve` must both report it. */
const BAD_CONFIG_PROBLEMS: ReadonlyArray<readonly [string, string]> = [
  ['listen', '"nowhere"'],
  ['upstream.tiemout', 'unknown key'],
  ['trustedProxies[0]', '"1.2.3"'],
  ['idempotency.ttl', '"1w"'],
  ['idempotency.maxRequestBytes', '"1MB"'],
];

t.test('check: an invalid config → exit 1, every problem as `path: message` on stderr', async (t) => {
  const r = await runCli(t, ['check', '--config', BAD_CONFIG]);
  t.equal(r.code, 1);
  expectProblems(t, r.stderr, BAD_CONFIG_PROBLEMS);
  t.equal(lines(r.stderr).length, 5, `exactly the five problems:\n${r.stderr}`);
  for (const l of lines(r.stderr)) t.match(l, /^[A-Za-z_()][\w.[\]()]*: \S/, `path: message form: ${l}`);
  t.notMatch(r.stdout, /^ok/m, 'no ok line');
});

t.test('check: an invalid credentials document → exit 1, every problem listed', async (t) => {
  const r = await runCli(t, ['check', '--config', BAD_CREDENTIALS]);
  t.equal(r.code, 1);
  expectProblems(t, r.stderr, [
    ['tenants[0].ipAllowList[1]', '010.0.0.1'],
    ['tenants[1].id', /duplicate/],
    ['credentials[0].secretHash', /sha256/],
    ['credentials[1].tenant', 'tnt_missing'],
    ['credentials[1].colour', 'unknown key'],
  ]);
  t.equal(lines(r.stderr).length, 5, `exactly the five problems:\n${r.stderr}`);
});

t.test('check: a missing config file or credentials file → exit 1', async (t) => {
  const dir = scratchDir(t);
  const config = path.join(dir, 'custody-proxy.yaml');
  writeFileSync(config, 'credentials:\n  file: missing-credentials.yaml\n');
  const [noConfig, noCredentials] = await Promise.all([
    runCli(t, ['check', '--config', path.join(dir, 'does-not-exist.yaml')], { cwd: dir }),
    runCli(t, ['check', '--config', config], { cwd: dir }),
  ]);
  t.equal(noConfig.code, 1);
  t.match(noConfig.stderr, 'does-not-exist.yaml');
  t.equal(noCredentials.code, 1);
  t.match(noCredentials.stderr, path.join(dir, 'missing-credentials.yaml'), 'resolved next to the config');
});

t.test('check: $CUSTODY_PROXY_CONFIG is used when --config is absent', async (t) => {
  const dir = scratchDir(t); // no config/custody-proxy.yaml here: only the variable can find one
  const [good, bad, flagWins, neither] = await Promise.all([
    runCli(t, ['check'], { cwd: dir, env: { CUSTODY_PROXY_CONFIG: GOOD } }),
    runCli(t, ['check'], { cwd: dir, env: { CUSTODY_PROXY_CONFIG: BAD_CONFIG } }),
    runCli(t, ['check', '--config', GOOD], { cwd: dir, env: { CUSTODY_PROXY_CONFIG: BAD_CONFIG } }),
    runCli(t, ['check'], { cwd: dir }),
  ]);
  t.equal(good.code, 0, good.stderr);
  t.equal(bad.code, 1);
  expectProblems(t, bad.stderr, [['upstream.tiemout', 'unknown key']]);
  t.equal(flagWins.code, 0, `--config wins over the variable: ${flagWins.stderr}`);
  t.equal(neither.code, 1, 'neither: config/custody-proxy.yaml relative to the cwd, absent here');
  t.match(neither.stderr, path.join('config', 'custody-proxy.yaml'));
});

t.test('serve: an invalid config → exit 1 with every problem, never listens', async (t) => {
  const r = await runCli(t, ['serve', '--config', BAD_CONFIG]);
  t.equal(r.code, 1);
  expectProblems(t, r.stderr, BAD_CONFIG_PROBLEMS);
  t.notMatch(r.stdout, 'listening');
});

t.test('serve: an invalid credentials document → exit 1, never listens', async (t) => {
  const r = await runCli(t, ['serve', '--config', BAD_CREDENTIALS]);
  t.equal(r.code, 1);
  expectProblems(t, r.stderr, [
    ['tenants[0].ipAllowList[1]', '010.0.0.1'],
    ['tenants[1].id', /duplicate/],
    ['credentials[0].secretHash', /sha256/],
    ['credentials[1].tenant', 'tnt_missing'],
    ['credentials[1].colour', 'unknown key'],
  ]);
  t.notMatch(r.stdout, 'custody-proxy listening', 'no listening line');
});

t.test('serve: listens, proxies a request, exits 0 on SIGTERM', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const child = spawnCli(['serve', '--config', GOOD], scratchDir(t), childEnv({ CP_TEST_UPSTREAM_URL: upstream.url }));
  t.teardown(() => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  let stdout = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );

  const listening = await waitForListening(child, 60_000, () => `stdout: ${stdout}\nstderr: ${stderr}`);
  t.equal(listening.level, 'info');
  t.equal(listening.proxy.address, '127.0.0.1');
  t.ok(listening.proxy.port > 0, 'the proxy port is reported');
  t.ok(listening.admin.port > 0, 'the admin port is reported');
  t.not(listening.proxy.port, listening.admin.port);

  const proxyUrl = `http://127.0.0.1:${listening.proxy.port}`;
  const r = await request(proxyUrl, {
    path: '/v1/vaults?limit=1',
    headers: [['Authorization', `Bearer ${KEY.keyId}:${KEY.secret}`]],
    timeoutMs: 20_000,
  });
  t.equal(r.status, 200, r.text);
  t.same(r.json(), { ok: true }, 'the upstream answer comes back');
  t.equal(upstream.requests.length, 1, 'the upstream saw the request');
  const got = upstream.requests[0];
  t.equal(got?.url, '/v1/vaults?limit=1');
  if (got) {
    t.same(upstream.headerLines(got, 'x-tenant-id'), ['tnt_cli']);
    t.same(upstream.headerLines(got, 'authorization'), [], 'the credential is not forwarded');
  }
  const denied = await request(proxyUrl, { path: '/v1/vaults', timeoutMs: 20_000 });
  t.equal(denied.status, 401, 'no credentials → 401');
  t.equal(upstream.requests.length, 1, 'and the upstream is not called');

  const health = await request(`http://127.0.0.1:${listening.admin.port}`, { path: '/healthz', timeoutMs: 20_000 });
  t.equal(health.status, 200, 'the admin listener answers');

  if (child.pid === undefined) throw new Error('no pid');
  process.kill(child.pid, 'SIGTERM');
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 30_000).unref());
  const result = await Promise.race([exited, timeout]);
  if (result === 'timeout') {
    t.fail(`did not exit within 30 s of SIGTERM\nstderr: ${stderr}`);
    return;
  }
  t.equal(result.code, 0, `exit code 0 on SIGTERM; stderr: ${stderr}`);
  t.equal(result.signal, null, 'exited by itself, not killed by the signal');
  t.notMatch(stdout, KEY.secret, 'the secret never reaches the logs');
});

t.test('an unknown command, or none, is a usage error: exit 2, one line on stderr', async (t) => {
  const [r, none] = await Promise.all([runCli(t, ['frobnicate']), runCli(t, [])]);
  t.equal(r.code, 2);
  t.match(r.stderr, /^[^\n]*frobnicate[^\n]*\n$/);
  t.equal(none.code, 2, 'no command at all');
  t.match(none.stderr, /^[^\n]+\n$/);
});

// SPEC §8 file source: the folder is watched (rename, in-place write, truncate-then-write, a Kubernetes
// `..data` symlink swap twice), changes are debounced, SIGHUP reloads (in-process and a real process),
// an invalid document is refused with every problem logged and counted while the last good one stays,
// an unchanged document is a no-op, and a request in flight keeps the snapshot it started with.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { startUpstream, type RecordingUpstream } from '../helpers/recording-upstream.js';
import { startProxy, type TestProxy } from '../helpers/start-proxy.js';
import { credentialsYaml, bearer, type KeySpec } from '../helpers/credentials.js';
import { request } from '../helpers/http-client.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'custody-proxy.js');

const TENANTS = [{ id: 'tnt_a' }, { id: 'tnt_b' }];
const A: KeySpec = { keyId: 'ck_test_reload_a', tenant: 'tnt_a', secret: 'sk_test_reload_secret_a' };
const B: KeySpec = { keyId: 'ck_test_reload_b', tenant: 'tnt_b', secret: 'sk_test_reload_secret_b' };
const C: KeySpec = { keyId: 'ck_test_reload_c', tenant: 'tnt_b', secret: 'sk_test_reload_secret_c' };

const revoked = (k: KeySpec): KeySpec => ({ ...k, status: 'revoked' });
/** A in force, B unknown */
const DOC_A = credentialsYaml(TENANTS, [A]);
/** A revoked, B active */
const DOC_B = credentialsYaml(TENANTS, [revoked(A), B]);
/** A revoked, B revoked, C active */
const DOC_C = credentialsYaml(TENANTS, [revoked(A), revoked(B), C]);

/** SPEC §8: a change takes effect within 2 s. */
const TAKES_EFFECT_MS = 2000;

let upstream: RecordingUpstream;
t.before(async () => {
  upstream = await startUpstream();
});
t.teardown(() => upstream.close());

function scratch(t: Test, prefix = 'custody-proxy-reload-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function open(t: Test, credentialsFile?: string, initial = DOC_A): Promise<TestProxy> {
  const config = credentialsFile === undefined ? {} : { credentials: { file: credentialsFile } };
  const proxy = await startProxy({ upstreamUrl: upstream.url, credentialsYaml: initial, config });
  t.teardown(() => proxy.close());
  return proxy;
}

const credsFile = (p: TestProxy): string => path.join(p.dir, 'credentials.yaml');

async function statusWith(p: TestProxy | string, k: KeySpec, urlPath = '/v1/vaults'): Promise<number> {
  const base = typeof p === 'string' ? p : p.url;
  return (await request(base, { path: urlPath, headers: [['Authorization', bearer(k)]] })).status;
}

/** Polls `check` every 50 ms until it holds; the elapsed ms, or undefined after timeoutMs. */
async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 3000): Promise<number | undefined> {
  const t0 = performance.now();
  for (;;) {
    if (await check()) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) return undefined;
    await sleep(50);
  }
}

/** the new document's keys are in force: `gone` gets 401 and `now` gets 200 */
const swapped = (p: TestProxy | string, gone: KeySpec, now: KeySpec) => async (): Promise<boolean> =>
  (await statusWith(p, gone)) === 401 && (await statusWith(p, now)) === 200;

/** custody_proxy_credential_reloads_total{result=…} from the admin listener's /metrics */
async function reloads(p: TestProxy, result: string): Promise<number> {
  const text = (await request(p.adminUrl, { path: '/metrics' })).text;
  const m = new RegExp(`^custody_proxy_credential_reloads_total\\{result="${result}"\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** How an editor saves: write a temp file beside it, then rename over. */
function writeByRename(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.swp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

interface RefusedLine {
  msg: string;
  level: string;
  problems: string[];
}

function refusedLines(p: TestProxy): RefusedLine[] {
  const out: RefusedLine[] = [];
  for (const line of p.logs) {
    const o = JSON.parse(line) as Record<string, unknown>;
    if (typeof o['msg'] === 'string' && o['msg'].startsWith('credentials document refused') && Array.isArray(o['problems'])) {
      out.push({ msg: o['msg'], level: String(o['level']), problems: (o['problems'] as unknown[]).map(String) });
    }
  }
  return out;
}

const loadedLines = (p: TestProxy): number => p.logs.filter((l) => l.includes('"msg":"credentials loaded"')).length;

t.test('a change written through rename (how editors save) takes effect within 2 s', async (t) => {
  const p = await open(t);
  t.equal(await statusWith(p, A), 200, 'A works on the first document');
  t.equal(await statusWith(p, B), 401, 'B is not known yet');
  const applied0 = await reloads(p, 'applied');
  writeByRename(credsFile(p), DOC_B);
  const ms = await waitFor(swapped(p, A, B));
  t.ok(ms !== undefined && ms < TAKES_EFFECT_MS, `in force after ${ms?.toFixed(0)} ms (< ${TAKES_EFFECT_MS})`);
  t.equal(await reloads(p, 'applied'), applied0 + 1, 'counted as applied');
});

t.test('an in-place write (same inode) takes effect within 2 s', async (t) => {
  const p = await open(t);
  const ino = statSync(credsFile(p)).ino;
  writeFileSync(credsFile(p), DOC_B);
  t.equal(statSync(credsFile(p)).ino, ino, 'the same file was rewritten');
  const ms = await waitFor(swapped(p, A, B));
  t.ok(ms !== undefined && ms < TAKES_EFFECT_MS, `in force after ${ms?.toFixed(0)} ms`);
});

/** docs[i] padded to `size` bytes with a trailing comment, so that versions differ in content only */
const padded = (doc: string, size: number): string => `${doc}#${'x'.repeat(size - Buffer.byteLength(doc) - 2)}\n`;
const FIXED_MTIME = new Date(1_700_000_000_000);

t.test('the folder watch (not the 1 s stat poll) sees an in-place change of same size and mtime', async (t) => {
  const size = Math.max(...[DOC_A, DOC_B].map((d) => Buffer.byteLength(d))) + 8;
  const p = await open(t, undefined, padded(DOC_A, size));
  utimesSync(credsFile(p), FIXED_MTIME, FIXED_MTIME);
  await sleep(1200); // the stat poll has recorded this (ino, size, mtime) by now
  writeFileSync(credsFile(p), padded(DOC_B, size));
  utimesSync(credsFile(p), FIXED_MTIME, FIXED_MTIME); // the poll's view: nothing changed
  const ms = await waitFor(swapped(p, A, B));
  t.ok(ms !== undefined && ms < TAKES_EFFECT_MS, `in force after ${ms?.toFixed(0)} ms: only a watch can have seen it`);
});

t.test('after an editor replaced the file by rename, the watch still sees the next change (a watch on the file itself would have died with the old inode)', async (t) => {
  const size = Math.max(...[DOC_A, DOC_B, DOC_C].map((d) => Buffer.byteLength(d))) + 8;
  const p = await open(t, undefined, padded(DOC_A, size));
  const file = credsFile(p);
  const tmp = `${file}.swp`;
  writeFileSync(tmp, padded(DOC_B, size));
  utimesSync(tmp, FIXED_MTIME, FIXED_MTIME);
  renameSync(tmp, file); // a new inode
  const first = await waitFor(swapped(p, A, B));
  t.ok(first !== undefined && first < TAKES_EFFECT_MS, `the renamed-in document is in force after ${first?.toFixed(0)} ms`);
  await sleep(1200); // the stat poll has recorded the new inode by now
  writeFileSync(file, padded(DOC_C, size)); // in place: same inode, same size
  utimesSync(file, FIXED_MTIME, FIXED_MTIME); // and same mtime: invisible to the poll
  const second = await waitFor(swapped(p, B, C));
  t.ok(second !== undefined && second < TAKES_EFFECT_MS, `the next in-place change is in force after ${second?.toFixed(0)} ms`);
});

t.test('truncate, a pause, then write: the empty file is refused, traffic flows on the old document, then the new one applies', async (t) => {
  const p = await open(t);
  const rejected0 = await reloads(p, 'rejected');
  truncateSync(credsFile(p), 0);
  const seen = await waitFor(async () => (await reloads(p, 'rejected')) > rejected0);
  t.ok(seen !== undefined, 'the empty document was refused and counted');
  t.equal(await statusWith(p, A), 200, 'A still works while the file is empty');
  t.equal(await statusWith(p, B), 401);
  t.match(refusedLines(p).at(-1)?.problems.join('\n') ?? '', /empty/, 'the log says why');
  writeFileSync(credsFile(p), DOC_B);
  const ms = await waitFor(swapped(p, A, B));
  t.ok(ms !== undefined && ms < TAKES_EFFECT_MS, `then the written document is in force after ${ms?.toFixed(0)} ms`);
});

t.test('debounce: a burst of half-written states becomes one load of the final document, nothing refused', async (t) => {
  const p = await open(t);
  const file = credsFile(p);
  const results = ['applied', 'unchanged', 'rejected'] as const;
  const before = await Promise.all(results.map((r) => reloads(p, r)));
  // Truncate, then write in pieces, then whole: what a non-atomic editor produces, 10 ms apart.
  const pieces = [0.1, 0.3, 0.5, 0.7, 0.9].map((f) => DOC_B.slice(0, Math.floor(DOC_B.length * f)));
  truncateSync(file, 0);
  for (const piece of pieces) {
    await sleep(10);
    writeFileSync(file, piece);
  }
  await sleep(10);
  writeFileSync(file, DOC_B);
  const ms = await waitFor(swapped(p, A, B));
  t.ok(ms !== undefined && ms < TAKES_EFFECT_MS, `the final document is in force after ${ms?.toFixed(0)} ms`);
  await sleep(1300); // the stat poll (1 s) and any trailing debounce have fired by now
  const after = await Promise.all(results.map((r) => reloads(p, r)));
  const delta = after.map((n, i) => n - (before[i] ?? 0));
  t.equal(delta[2], 0, 'no half-written state was ever loaded (rejected += 0)');
  t.equal(delta[0], 1, 'exactly one document applied');
  t.ok((delta[0] ?? 0) + (delta[1] ?? 0) + (delta[2] ?? 0) <= 2, `at most two loads for seven writes (${delta.join('/')})`);
});

t.test('a busy sibling file in the watched folder does not postpone a credentials change forever', async (t) => {
  const p = await open(t);
  const noise = path.join(p.dir, 'noise.log');
  let n = 0;
  const timer = setInterval(() => writeFileSync(noise, `line ${n++}\n`, { flag: 'a' }), 40);
  t.teardown(() => clearInterval(timer));
  await sleep(200);
  writeByRename(credsFile(p), DOC_B);
  const ms = await waitFor(swapped(p, A, B));
  clearInterval(timer);
  t.ok(ms !== undefined && ms < TAKES_EFFECT_MS, `in force after ${ms === undefined ? 'never (3 s)' : `${ms.toFixed(0)} ms`} despite a write beside it every 40 ms`);
});

t.test('an invalid document is refused: every problem logged, counted, traffic keeps flowing on the last good one', async (t) => {
  const p = await open(t);
  const rejected0 = await reloads(p, 'rejected');
  const current0 = p.app.registry.current;

  // 1. not YAML at all
  writeByRename(credsFile(p), 'tenants: [unclosed\ncredentials: {{{\n');
  t.ok((await waitFor(async () => (await reloads(p, 'rejected')) === rejected0 + 1)) !== undefined, 'a YAML syntax error is counted');
  t.equal(await statusWith(p, A), 200, 'A still works');
  // The watch saw the edit; the stat poll (every 1 s) must not load and count it a second time.
  await sleep(2500);
  t.equal(await reloads(p, 'rejected'), rejected0 + 1, 'one bad edit is one rejected reload, also after the poll has run');

  // 2. YAML, but three separate problems; the document also adds B, which must not take effect
  const bad = stringify({
    tenants: [{ id: 'tnt_a', ipAllowList: ['10.0.0.300/32'] }],
    credentials: [
      { keyId: A.keyId, tenant: 'tnt_a', status: 'revoked', secretHash: 'sha256:abc' },
      { keyId: B.keyId, tenant: 'tnt_nowhere', status: 'active', secretHash: `sha256:${'0'.repeat(64)}` },
    ],
  });
  writeByRename(credsFile(p), bad);
  t.ok((await waitFor(async () => (await reloads(p, 'rejected')) === rejected0 + 2)) !== undefined, 'the invalid document is counted');
  t.equal(await statusWith(p, A), 200, 'A is still active: the revocation in the bad document is not applied');
  t.equal(await statusWith(p, B), 401, 'B from the bad document is not accepted');
  t.equal(p.app.registry.current, current0, 'the snapshot in force is the very same object');

  const lines = refusedLines(p);
  t.equal(lines.length, 2, 'one error line per refused document');
  t.equal(lines[1]?.level, 'error');
  const problems = lines[1]?.problems ?? [];
  t.ok(problems.length >= 3, `every problem is listed (${problems.length})`);
  t.ok(problems.some((x) => x.startsWith('tenants[0].ipAllowList[0]') && x.includes('10.0.0.300')), 'the bad CIDR, with its path');
  t.ok(problems.some((x) => x.startsWith('credentials[0].secretHash')), 'the bad secretHash, with its path');
  t.ok(problems.some((x) => x.startsWith('credentials[1].tenant') && x.includes('tnt_nowhere')), 'the unknown tenant, with its path');
  t.ok(lines[0]?.problems.length !== 0, 'the syntax error is listed too');

  // 3. a good document after the bad ones applies normally
  writeByRename(credsFile(p), DOC_B);
  const ms = await waitFor(swapped(p, A, B));
  t.ok(ms !== undefined && ms < TAKES_EFFECT_MS, `a valid document afterwards applies (${ms?.toFixed(0)} ms)`);
  t.not(p.app.registry.current, current0);
});

t.test('an unchanged document is a no-op: counted as unchanged, the snapshot object is kept, nothing logged as loaded', async (t) => {
  const p = await open(t);
  const snapshot = p.app.registry.current;
  const unchanged0 = await reloads(p, 'unchanged');
  const applied0 = await reloads(p, 'applied');
  const loaded0 = loadedLines(p);
  writeByRename(credsFile(p), readFileSync(credsFile(p), 'utf8')); // new inode and mtime, same bytes
  t.ok((await waitFor(async () => (await reloads(p, 'unchanged')) > unchanged0)) !== undefined, 'the reload happened and was counted unchanged');
  t.equal(await reloads(p, 'applied'), applied0, 'not counted as applied');
  t.equal(p.app.registry.current, snapshot, 'the same snapshot object stays in force');
  t.equal(loadedLines(p), loaded0, 'no "credentials loaded" line');
  t.equal(await p.app.reloadCredentials(), 'unchanged', 'an explicit reload says unchanged too');
  t.equal(p.app.registry.current, snapshot);
});

t.test('Kubernetes Secret volume: the `..data` symlink is swapped twice, each swap takes effect within 2 s', async (t) => {
  // The layout kubelet maintains: ..<timestamp>/credentials.yaml, ..data -> ..<timestamp>,
  // credentials.yaml -> ..data/credentials.yaml. An update writes a new timestamped folder, points a
  // temp symlink at it, renames that over ..data (atomic) and removes the old folder.
  const mount = scratch(t, 'custody-proxy-k8s-');
  const publish = (stamp: string, text: string, first: boolean): void => {
    const dir = path.join(mount, stamp);
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'credentials.yaml'), text);
    if (first) {
      symlinkSync(stamp, path.join(mount, '..data'));
      symlinkSync(path.join('..data', 'credentials.yaml'), path.join(mount, 'credentials.yaml'));
      return;
    }
    const old = readlinkSync(path.join(mount, '..data'));
    symlinkSync(stamp, path.join(mount, '..data_tmp'));
    renameSync(path.join(mount, '..data_tmp'), path.join(mount, '..data'));
    rmSync(path.join(mount, old), { recursive: true, force: true });
  };
  publish('..2026_01_01_00_00_00.000000001', DOC_A, true);
  const p = await open(t, path.join(mount, 'credentials.yaml'));
  t.equal(await statusWith(p, A), 200, 'A works from the first projection');

  publish('..2026_01_01_00_01_00.000000002', DOC_B, false);
  t.notOk(existsSync(path.join(mount, '..2026_01_01_00_00_00.000000001')), 'the old projection is gone');
  const first = await waitFor(swapped(p, A, B));
  t.ok(first !== undefined && first < TAKES_EFFECT_MS, `first swap in force after ${first?.toFixed(0)} ms`);

  publish('..2026_01_01_00_02_00.000000003', DOC_C, false);
  const second = await waitFor(swapped(p, B, C));
  t.ok(second !== undefined && second < TAKES_EFFECT_MS, `second swap in force after ${second?.toFixed(0)} ms`);
  t.equal(await statusWith(p, A), 401, 'A stays revoked');
});

/**
 * A change nothing can notice but an explicit reload: credentials.yaml in the watched folder is a
 * symlink to a file in ANOTHER folder (so no folder event fires), and every version has the same size
 * and the same mtime (so the 1 s stat poll sees nothing either).
 */
class HiddenFile {
  readonly link: string;
  readonly target: string;
  readonly size: number;
  constructor(t: Test, readonly docs: readonly string[]) {
    const base = scratch(t, 'custody-proxy-hidden-');
    mkdirSync(path.join(base, 'watched'));
    mkdirSync(path.join(base, 'elsewhere'));
    this.target = path.join(base, 'elsewhere', 'real-credentials.yaml');
    this.link = path.join(base, 'watched', 'credentials.yaml');
    this.size = Math.max(...docs.map((d) => Buffer.byteLength(d))) + 8;
    this.write(0);
    symlinkSync(this.target, this.link);
  }
  /** rewrites the target in place with docs[i], padded to the common size, and restores the mtime */
  write(i: number): void {
    writeFileSync(this.target, padded(this.docs[i] ?? '', this.size));
    utimesSync(this.target, FIXED_MTIME, FIXED_MTIME);
  }
}

t.test('the 1 s stat poll backs the watch up: a change no folder event reports is still picked up', async (t) => {
  // credentials.yaml links into a folder that is not watched; the new version has another size
  const base = scratch(t, 'custody-proxy-poll-');
  mkdirSync(path.join(base, 'watched'));
  mkdirSync(path.join(base, 'elsewhere'));
  const target = path.join(base, 'elsewhere', 'real.yaml');
  const link = path.join(base, 'watched', 'credentials.yaml');
  writeFileSync(target, DOC_A);
  symlinkSync(target, link);
  const p = await open(t, link);
  await sleep(300);
  writeFileSync(target, `${DOC_B}# a different size\n`);
  const ms = await waitFor(swapped(p, A, B));
  t.ok(ms !== undefined && ms < TAKES_EFFECT_MS, `in force after ${ms?.toFixed(0)} ms`);
});

t.test('SIGHUP (in-process: app.reloadCredentials) picks up a change the watcher cannot see', async (t) => {
  const hidden = new HiddenFile(t, [DOC_A, DOC_B]);
  const p = await open(t, hidden.link);
  t.equal(await statusWith(p, A), 200);
  hidden.write(1);
  t.equal(statSync(hidden.link).size, hidden.size, 'same size');
  await sleep(1400); // longer than the stat poll + debounce: had anything noticed, it would be in force
  t.equal(await statusWith(p, A), 200, 'nothing noticed the change on its own');
  t.equal(await p.app.reloadCredentials(), 'applied', 'the reload applied the new document');
  t.equal(await statusWith(p, A), 401, 'A revoked at once');
  t.equal(await statusWith(p, B), 200, 'B active at once');
  t.equal(await p.app.reloadCredentials(), 'unchanged', 'a second reload of the same document is a no-op');
});

t.test('SIGHUP to a real `custody-proxy serve` process reloads the file and the process keeps running', async (t) => {
  if (!existsSync(path.join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const hidden = new HiddenFile(t, [DOC_A, DOC_B]);
  const config = path.join(path.dirname(hidden.link), 'custody-proxy.yaml');
  writeFileSync(
    config,
    stringify({
      listen: '127.0.0.1:0',
      admin: { listen: '127.0.0.1:0' },
      upstream: { url: upstream.url, timeout: '5s', connectTimeout: '1s' },
      credentials: { file: 'credentials.yaml' },
      drainDelay: '0s',
      shutdownTimeout: '2s',
    }),
  );
  const env = { ...process.env };
  delete env['NODE_OPTIONS'];
  const child = spawn(process.execPath, [BIN, 'serve', '--config', config], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid;
  if (pid === undefined) throw new Error('no pid');
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

  let proxyUrl = '';
  const up = await waitFor(() => {
    const m = /"msg":"custody-proxy listening"/.test(stdout) ? /"proxy":\{[^}]*"port":(\d+)/.exec(stdout) : null;
    if (m) proxyUrl = `http://127.0.0.1:${m[1]}`;
    return m !== null || child.exitCode !== null;
  }, 30_000);
  if (up === undefined || proxyUrl === '') {
    t.fail(`the process did not start\nstdout: ${stdout}\nstderr: ${stderr}`);
    return;
  }
  t.equal(await statusWith(proxyUrl, A), 200, 'A works');
  hidden.write(1);
  await sleep(1400);
  t.equal(await statusWith(proxyUrl, A), 200, 'the change is invisible to the watcher and the stat poll');
  process.kill(pid, 'SIGHUP');
  const ms = await waitFor(swapped(proxyUrl, A, B));
  t.ok(ms !== undefined && ms < TAKES_EFFECT_MS, `SIGHUP: new document in force after ${ms?.toFixed(0)} ms`);
  t.equal(child.exitCode, null, 'SIGHUP did not end the process');
  t.equal(child.signalCode, null);

  process.kill(pid, 'SIGTERM');
  const end = await Promise.race([exited, sleep(15_000).then(() => 'timeout' as const)]);
  if (end === 'timeout') {
    t.fail(`no exit within 15 s of SIGTERM\nstderr: ${stderr}`);
    return;
  }
  t.equal(end.code, 0, `exit 0 after SIGTERM; stderr: ${stderr}`);
  t.notMatch(stdout, A.secret, 'no secret in the logs');
});

t.test('a request in flight keeps the snapshot it started with; a new request with the revoked key gets 401', async (t) => {
  const p = await open(t);
  const releases: Array<() => void> = [];
  const saved = upstream.handler;
  upstream.handler = (req, res) => {
    if (req.url === '/v1/slow') {
      releases.push(() => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('slow-done');
      });
      return;
    }
    saved(req, res, Buffer.alloc(0));
  };
  t.teardown(() => {
    upstream.handler = saved;
    for (const r of releases) r();
  });
  const inflight = request(p.url, { path: '/v1/slow', headers: [['Authorization', bearer(A)]] });
  t.ok((await waitFor(() => releases.length === 1)) !== undefined, 'the request with A is at the upstream');

  writeByRename(credsFile(p), DOC_B);
  const ms = await waitFor(async () => (await statusWith(p, A)) === 401);
  t.ok(ms !== undefined && ms < TAKES_EFFECT_MS, `a new request with A gets 401 after ${ms?.toFixed(0)} ms`);
  t.equal(await statusWith(p, B), 200, 'the new document is in force');

  releases.shift()?.();
  const r = await inflight;
  t.equal(r.status, 200, 'the in-flight request completes on the snapshot it started with');
  t.equal(r.text, 'slow-done');
});

// The image's runtime without a Docker engine (SPEC §12, issue 19): the last stage's file tree is built
// from the Dockerfile's own COPY lines (test/helpers/runtime-tree.ts), then checked and run the way the
// container runs it: as the Dockerfile's USER (uid 1000) with its ENV only, its ENTRYPOINT + CMD, and
// the node running this test. Production dependencies only, files the process cannot rewrite, and a proxy that serves:
// authenticated traffic reaches a real upstream stamped with the tenant, /readyz answers 200.
// Needs root (tests run as root on CI) to become uid 1000 with setpriv; as any other user the tree
// is run as that user and the not-writable check is skipped, since the files are then its own.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { bearer, credentialsYaml } from '../helpers/credentials.js';
import { request } from '../helpers/http-client.js';
import { stopChild, track } from '../helpers/processes.js';
import { startUpstream } from '../helpers/recording-upstream.js';
import { buildRuntimeTree } from '../helpers/runtime-tree.js';
import { waitForListening } from '../helpers/spawn-proxy.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { dev?: boolean; optional?: boolean }>;
};
const isRoot = process.getuid?.() === 0;
const key = { keyId: 'ck_test_image', tenant: 'acme', secret: 'sk_test_image_secret' };

const tree = buildRuntimeTree(root);
t.teardown(() => tree.remove());
const app = tree.hostPath(tree.workdir);
// The process runs as the Dockerfile's USER (dockerfile.test.ts requires a numeric non-root uid:gid).
function numericUser(user: string | undefined): { uid: number; gid: number } {
  const m = /^(\d+):(\d+)$/.exec(user ?? '');
  if (!m) throw new Error(`Dockerfile: USER ${String(user)} is not a numeric uid:gid`);
  return { uid: Number(m[1]), gid: Number(m[2]) };
}
const appUser = numericUser(tree.user);
const asAppUser = [`--reuid=${appUser.uid}`, `--regid=${appUser.gid}`, '--clear-groups', '--'];

/** Package folders under a node_modules, named as package-lock.json names them ('node_modules/a/node_modules/@s/b'). */
function installedPackages(modules: string, prefix = 'node_modules'): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(modules)) {
    if (entry.startsWith('.')) continue; // .bin, .package-lock.json
    const names = entry.startsWith('@') ? readdirSync(path.join(modules, entry)).map((n) => `${entry}/${n}`) : [entry];
    for (const name of names) {
      out.push(`${prefix}/${name}`);
      const nested = path.join(modules, name, 'node_modules');
      if (existsSync(nested)) out.push(...installedPackages(nested, `${prefix}/${name}/node_modules`));
    }
  }
  return out;
}

/** The container's process: ENTRYPOINT + args, as the image's USER, with the image's ENV only. */
function containerArgv(args: readonly string[]): { command: string; argv: string[]; env: NodeJS.ProcessEnv } {
  const [program = '', ...rest] = tree.entrypoint;
  const argv = [program, ...rest.map((a) => (a.startsWith('/') ? tree.hostPath(a) : a)), ...args];
  const env = { PATH: `${tree.hostPath('/usr/local/bin')}:/usr/bin:/bin`, ...tree.env };
  if (!isRoot) return { command: argv[0] ?? '', argv: argv.slice(1), env };
  return { command: 'setpriv', argv: [...asAppUser, ...argv], env };
}

function runOnce(args: readonly string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const c = containerArgv(args);
  const r = spawnSync(c.command, c.argv, { cwd: app, env: { ...c.env, ...env }, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Config and credentials as a mounted ConfigMap/Secret would be: root's, readable by the app's group. */
function writeConfig(upstreamUrl: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'custody-proxy-image-config-'));
  const config = {
    listen: '127.0.0.1:0',
    admin: { listen: '127.0.0.1:0' },
    upstream: { url: upstreamUrl, timeout: '5s', connectTimeout: '1s' },
    credentials: { file: 'credentials.yaml' },
    drainDelay: '0s',
    shutdownTimeout: '2s',
  };
  writeFileSync(path.join(dir, 'custody-proxy.yaml'), stringify(config));
  writeFileSync(path.join(dir, 'credentials.yaml'), credentialsYaml([{ id: key.tenant }], [key]));
  for (const [p, mode] of [[dir, 0o750], [path.join(dir, 'custody-proxy.yaml'), 0o640], [path.join(dir, 'credentials.yaml'), 0o640]] as const) {
    chmodSync(p, mode);
    if (isRoot) chownSync(p, 0, appUser.gid);
  }
  return dir;
}

t.test('the tree holds package.json, the lock file, bin, dist and production node_modules only', async (t) => {
  t.same(readdirSync(app).sort(), ['bin', 'dist', 'node_modules', 'package-lock.json', 'package.json']);
  const modules = path.join(app, 'node_modules');
  for (const dep of Object.keys(pkg.dependencies)) t.ok(existsSync(path.join(modules, dep)), `dependency ${dep} present`);
  for (const dev of [...Object.keys(pkg.devDependencies), 'npm', 'corepack']) t.notOk(existsSync(path.join(modules, dev)), `${dev} absent`);
  // Every package the lock file needs in production (optional ones may be left out on this platform)
  // and nothing the lock file marks dev.
  const installed = installedPackages(modules);
  const production = Object.entries(lock.packages).filter(([k, v]) => k.startsWith('node_modules/') && v.dev !== true);
  t.same(installed.filter((p) => !production.some(([k]) => k === p)), [], 'nothing beyond the lock file\'s production packages');
  t.same(production.filter(([k, v]) => v.optional !== true && !installed.includes(k)).map(([k]) => k), [], 'every production package');
  t.ok(installed.length > 0);
});

t.test('the image runs as uid 1000 with NODE_ENV=production', async (t) => {
  t.equal(tree.user, '1000:1000', "the node image's node user");
  t.equal(tree.env['NODE_ENV'], 'production');
  const node = spawnSync(tree.hostPath('/usr/local/bin/node'), ['--version'], { encoding: 'utf8' });
  t.equal(node.stdout.trim(), process.version, 'the tree runs the node of this test run (CI: Node 20, then Node 24)');
});

t.test('no file in /app is writable by uid 1000', { skip: isRoot ? false : 'not root: the files belong to the user running the test' }, async (t) => {
  // The kernel decides: uid 1000 asks access(W_OK) for every entry and tries to create a file.
  const probe = `
    const fs = require('node:fs'), path = require('node:path');
    const writable = [];
    const walk = (p) => {
      try { fs.accessSync(p, fs.constants.W_OK); writable.push(p); } catch {}
      if (fs.lstatSync(p).isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e));
    };
    walk(process.argv[1]);
    let created = 'no';
    try { fs.writeFileSync(path.join(process.argv[1], 'dist', 'injected.js'), ''); created = 'yes'; } catch (e) { created = e.code; }
    process.stdout.write(JSON.stringify({ writable, created }));`;
  const r = spawnSync('setpriv', [...asAppUser, tree.hostPath('/usr/local/bin/node'), '-e', probe, app], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.equal(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout) as { writable: string[]; created: string };
  t.same(result.writable, [], 'nothing writable');
  t.equal(result.created, 'EACCES', 'cannot add code to dist/');
});

t.test('`docker run IMAGE --version` prints the package version', async (t) => {
  const r = runOnce(['--version']);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, `${pkg.version}\n`);
});

t.test('`docker run IMAGE check --config FILE` validates a config as uid 1000', async (t) => {
  const dir = writeConfig('http://127.0.0.1:1');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = runOnce(['check', '--config', path.join(dir, 'custody-proxy.yaml')]);
  t.equal(r.status, 0, r.stdout + r.stderr);
});

t.test('the default CMD serves: tenant-stamped traffic upstream, /readyz 200, SIGTERM exits 0', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const dir = writeConfig(upstream.url);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const c = containerArgv(tree.cmd);
  // As `docker run -e CUSTODY_PROXY_CONFIG=…`: the image's default path does not exist on this machine.
  const env = { ...c.env, CUSTODY_PROXY_CONFIG: path.join(dir, 'custody-proxy.yaml') };
  const child = spawn(c.command, c.argv, { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error('the proxy did not start');
  const exited = track(child, child.pid);
  t.teardown(() => stopChild(child, 'SIGKILL', 10_000).catch(() => undefined));
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const listening = await waitForListening(child, 30_000, () => `stdout: ${out}\nstderr: ${err}`);

  const reply = await request(`http://127.0.0.1:${listening.proxy.port}`, { path: '/v1/vaults', headers: [['Authorization', bearer(key)]] });
  t.equal(reply.status, 200, reply.text);
  t.equal(upstream.requests.length, 1);
  t.equal(upstream.requests[0]?.headers['x-tenant-id'], key.tenant, 'the upstream got the tenant');
  t.equal(upstream.requests[0]?.headers['authorization'], undefined, 'and no Authorization');
  const ready = await request(`http://127.0.0.1:${listening.admin.port}`, { path: '/readyz' });
  t.equal(ready.status, 200, ready.text);

  await stopChild(child, 'SIGTERM', 15_000);
  t.same(await exited, { code: 0, signal: null }, 'drained and exited 0 on SIGTERM');
});

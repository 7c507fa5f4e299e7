// The Dockerfile's text (SPEC §12, issue 19): dockerfilelint finds nothing; multi-stage on Node 24 by
// build argument; a runtime stage with no package manager, production dependencies from the `deps`
// stage, root-owned files, a numeric non-root USER, NODE_ENV=production, OCI labels that agree with
// package.json, and ENTRYPOINT + CMD shaped so that arguments replace `serve`. The .dockerignore
// allow-list keeps everything else out of the build context. (No Docker engine runs on the CI
// machine; test/packaging/runtime-tree.test.ts builds and runs the runtime's file tree instead.)
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { copyArgs, dockerignore, execForm, keyValuePairs, stages, type Instruction } from '../helpers/dockerfile.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const text = readFileSync(`${root}Dockerfile`, 'utf8');
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { name: string; version: string; description: string; license: string };
const all = stages(text);
const runtime = all.at(-1);
const deps = all.find((s) => s.name === 'deps');
const inRuntime = (keyword: string): Instruction[] => runtime?.instructions.filter((i) => i.keyword === keyword) ?? [];
const lastOf = (keyword: string): Instruction | undefined => inRuntime(keyword).at(-1);

t.test('dockerfilelint finds no issue', async (t) => {
  const r = spawnSync(`${root}node_modules/.bin/dockerfilelint`, ['Dockerfile'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  t.equal(r.status, 0, r.stdout + r.stderr);
});

t.test('multi-stage on Node 24 by build argument', async (t) => {
  t.match(text, /^ARG NODE_VERSION=24$/m, 'ARG NODE_VERSION=24');
  t.same(all.map((s) => s.name), ['build', 'deps', 'runtime']);
  for (const s of all) t.match(s.base, /^node:\$\{NODE_VERSION\}-/, `${s.name} from node:\${NODE_VERSION}`);
});

t.test('production dependencies come from the deps stage; the runtime has no package manager', async (t) => {
  t.ok(deps?.instructions.some((i) => i.keyword === 'RUN' && /^npm ci --omit=dev\b/.test(i.args)), 'deps: npm ci --omit=dev');
  t.ok(inRuntime('COPY').some((i) => copyArgs(i).from === 'deps' && copyArgs(i).sources.includes('/app/node_modules')), 'node_modules from deps');
  const runs = inRuntime('RUN').map((i) => i.args);
  t.notOk(runs.some((r) => /(^|&&|;|\|\|)\s*(npm|npx|corepack|yarn)\s/.test(r)), 'no RUN command is a package manager');
  const removal = runs.find((r) => r.startsWith('rm -rf ')) ?? '';
  for (const p of ['/usr/local/lib/node_modules/npm', '/usr/local/lib/node_modules/corepack', '/usr/local/bin/npm', '/usr/local/bin/npx', '/usr/local/bin/corepack', '/usr/local/bin/yarn']) {
    t.ok(removal.split(/\s+/).includes(p), `removes ${p}`);
  }
});

t.test('the runtime copies package files, bin and dist only, root-owned', async (t) => {
  const copies = inRuntime('COPY')
    .filter((i) => !/--chown|--chmod/.test(i.args))
    .map(copyArgs);
  const fromContext = copies.filter((c) => c.from === undefined).flatMap((c) => c.sources);
  t.same(fromContext.sort(), ['bin', 'package-lock.json', 'package.json'], 'no sources, tests or bench');
  t.ok(copies.some((c) => c.from === 'build' && c.sources.includes('/app/dist')), 'dist from the build stage');
  t.notOk(inRuntime('COPY').some((i) => /--chown|--chmod/.test(i.args)), 'COPY keeps root as owner: uid 1000 cannot rewrite the code');
});

t.test('numeric non-root user, NODE_ENV=production, ports, stop signal', async (t) => {
  const user = lastOf('USER')?.args.trim() ?? '';
  t.match(user, /^[0-9]+:[0-9]+$/, `USER ${user} is numeric uid:gid (runAsNonRoot can verify it)`);
  t.not(user.split(':')[0], '0', 'not root');
  const env = Object.assign({}, ...inRuntime('ENV').map(keyValuePairs)) as Record<string, string>;
  t.equal(env['NODE_ENV'], 'production');
  t.equal(lastOf('EXPOSE')?.args, '8080 9090');
  t.equal(lastOf('STOPSIGNAL')?.args, 'SIGTERM');
  t.equal(lastOf('HEALTHCHECK')?.args, 'NONE', 'no HEALTHCHECK, deliberately (Kubernetes probes instead)');
});

t.test('ENTRYPOINT runs the CLI, CMD is serve: arguments replace the command', async (t) => {
  const entrypoint = lastOf('ENTRYPOINT');
  const cmd = lastOf('CMD');
  t.ok(entrypoint && cmd, 'both present');
  if (!entrypoint || !cmd) return;
  t.same(execForm(entrypoint), ['node', '/app/bin/custody-proxy.js'], 'exec form, no shell: node is PID 1 and gets SIGTERM');
  t.same(execForm(cmd), ['serve']);
});

t.test('OCI labels, agreeing with package.json', async (t) => {
  const labels = Object.assign({}, ...inRuntime('LABEL').map(keyValuePairs)) as Record<string, string>;
  const args = Object.fromEntries(inRuntime('ARG').map((i) => [i.args.split('=')[0], i.args.split('=').slice(1).join('=')]));
  const oci = (k: string): string | undefined => labels[`org.opencontainers.image.${k}`];
  t.equal(oci('title'), pkg.name);
  t.equal(oci('description'), pkg.description);
  t.equal(oci('licenses'), pkg.license);
  t.equal(oci('version'), '${VERSION}');
  t.equal(args['VERSION'], pkg.version, 'ARG VERSION defaults to package.json version (update both on release)');
  for (const k of ['revision', 'created', 'source']) {
    const value = oci(k) ?? '';
    const arg = /^\$\{(\w+)\}$/.exec(value)?.[1];
    t.ok(arg !== undefined && arg in args, `${k} comes from a build argument (${value})`);
  }
});

t.test('.dockerignore keeps everything but the sources out of the build context', async (t) => {
  const ignored = dockerignore(root);
  for (const p of ['node_modules/tap/package.json', 'dist/cli.js', '.git/HEAD', 'test/unit/x.test.ts', 'bench/run.ts', 'config/credentials.yaml', '.env', 'helm/custody-proxy/values.yaml']) {
    t.ok(ignored(p), `${p} left out`);
  }
  for (const p of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src/cli.ts', 'bin/custody-proxy.js']) t.notOk(ignored(p), `${p} sent`);
});

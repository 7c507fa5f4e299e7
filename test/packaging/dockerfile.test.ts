// The Dockerfile (SPEC §12): dockerfilelint finds nothing, and the image is built the way the spec
// asks: multi-stage, Node 24 by default through a build argument, production dependencies only, no
// tests or dev files copied, a non-root user, an exec-form entrypoint running `serve`, both ports.
// (No Docker engine runs on the CI machine, so the image itself is not built here.)
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const text = readFileSync(`${root}Dockerfile`, 'utf8');
const lines = text.split('\n').filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'));
const runtime = text.slice(text.lastIndexOf('\nFROM '));

t.test('dockerfilelint finds no issue', async (t) => {
  const r = spawnSync(`${root}node_modules/.bin/dockerfilelint`, ['Dockerfile'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  t.equal(r.status, 0, r.stdout + r.stderr);
});

t.test('multi-stage on Node 24 by build argument', async (t) => {
  t.ok(lines.some((l) => /^ARG NODE_VERSION=24$/.test(l)), 'ARG NODE_VERSION=24');
  t.equal(lines.filter((l) => /^FROM node:\$\{NODE_VERSION\}/.test(l)).length, 2, 'two node stages');
});

t.test('the runtime stage has production dependencies and dist only, as a non-root user', async (t) => {
  t.match(runtime, /npm ci --omit=dev/);
  t.match(runtime, /COPY --from=build \/app\/dist/);
  t.notMatch(runtime, /COPY (\.|src|test|bench)\b/, 'no sources, tests or bench copied into the runtime');
  const user = /\nUSER (\S+)/.exec(runtime)?.[1];
  t.ok(user !== undefined && user !== 'root' && user !== '0', `runs as ${String(user)}`);
  t.match(runtime, /ENTRYPOINT \["node", "[^"]*bin\/custody-proxy\.js", "serve"\]/, 'exec-form entrypoint running serve');
  t.match(runtime, /EXPOSE 8080 9090/);
});

t.test('.dockerignore keeps dev files out of the build context', async (t) => {
  const ignore = readFileSync(`${root}.dockerignore`, 'utf8').split('\n');
  for (const entry of ['node_modules', 'test', 'bench', '.git']) t.ok(ignore.includes(entry), entry);
});

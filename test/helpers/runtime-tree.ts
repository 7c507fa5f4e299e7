// Builds, without a Docker engine, the file tree the Dockerfile's last stage would hold: its COPY
// lines are carried out into a temp "rootfs" (from the build context filtered by .dockerignore, or
// from an earlier stage built the same way), so an image that forgets a file fails the test that runs
// the proxy from this tree. RUN lines of earlier stages run here only from an allow-list (npm ci, npx
// tsc); the runtime stage's RUN lines change the base image and are never run on this machine. Node
// itself is linked in at /usr/local/bin/node, where the node image has it.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { copyArgs, dockerignore, keyValuePairs, execForm, stages, type Instruction, type Stage } from './dockerfile.js';

export interface RuntimeTree {
  /** the temp folder standing for the image's / */
  readonly rootfs: string;
  readonly workdir: string;
  readonly env: Readonly<Record<string, string>>;
  readonly user: string | undefined;
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  /** where a path inside the image is on this machine */
  hostPath(containerPath: string): string;
  remove(): void;
}

interface StageState {
  rootfs: string;
  workdir: string;
  env: Record<string, string>;
  user?: string;
  entrypoint: string[];
  cmd: string[];
}

interface Context {
  readonly root: string;
  readonly out: string;
  readonly stages: Stage[];
  readonly ignored: (relative: string) => boolean;
  readonly built: Map<string, StageState>;
}

// Instructions that only describe the image (metadata) and change no file in it.
const METADATA = new Set(['ARG', 'LABEL', 'EXPOSE', 'STOPSIGNAL', 'HEALTHCHECK']);

/** Builds the last stage of ROOT/Dockerfile into a new temp folder; remove() deletes it. */
export function buildRuntimeTree(root: string): RuntimeTree {
  const out = mkdtempSync(path.join(tmpdir(), 'custody-proxy-image-'));
  chmodSync(out, 0o755); // mkdtemp's 0700 would keep the unprivileged user out
  try {
    const all = stages(readFileSync(path.join(root, 'Dockerfile'), 'utf8'));
    const last = all.at(-1);
    if (!last) throw new Error('Dockerfile: no FROM');
    const ctx: Context = { root, out, stages: all, ignored: dockerignore(root), built: new Map() };
    const s = buildStage(ctx, last, true);
    linkNode(s.rootfs);
    return {
      rootfs: s.rootfs,
      workdir: s.workdir,
      env: s.env,
      user: s.user,
      entrypoint: s.entrypoint,
      cmd: s.cmd,
      hostPath: (p) => path.join(s.rootfs, path.posix.resolve(s.workdir, p)),
      remove: () => rmSync(out, { recursive: true, force: true }),
    };
  } catch (err) {
    rmSync(out, { recursive: true, force: true });
    throw err;
  }
}

function buildStage(ctx: Context, stage: Stage, isRuntime: boolean): StageState {
  const s: StageState = { rootfs: path.join(ctx.out, `stage-${stage.name}`), workdir: '/', env: {}, entrypoint: [], cmd: [] };
  mkdirSync(s.rootfs, { mode: 0o755 });
  for (const ins of stage.instructions) apply(ctx, s, ins, isRuntime);
  return s;
}

function apply(ctx: Context, s: StageState, ins: Instruction, isRuntime: boolean): void {
  const where = `Dockerfile line ${ins.line}: ${ins.keyword}`;
  if (METADATA.has(ins.keyword)) return;
  if (ins.keyword === 'WORKDIR') {
    s.workdir = path.posix.resolve(s.workdir, ins.args.trim());
    mkdirSync(path.join(s.rootfs, s.workdir), { recursive: true, mode: 0o755 });
  } else if (ins.keyword === 'COPY') copy(ctx, s, ins);
  else if (ins.keyword === 'ENV') Object.assign(s.env, keyValuePairs(ins));
  else if (ins.keyword === 'USER') s.user = ins.args.trim();
  else if (ins.keyword === 'ENTRYPOINT') s.entrypoint = execForm(ins);
  else if (ins.keyword === 'CMD') s.cmd = execForm(ins);
  else if (ins.keyword === 'RUN' && !isRuntime) run(ctx, path.join(s.rootfs, s.workdir), ins);
  else if (ins.keyword !== 'RUN') throw new Error(`${where} is not understood by test/helpers/runtime-tree.ts`);
}

function copy(ctx: Context, s: StageState, ins: Instruction): void {
  const { from, sources, dest } = copyArgs(ins);
  const destHost = path.join(s.rootfs, path.posix.resolve(s.workdir, dest));
  const intoFolder = dest.endsWith('/') || sources.length > 1;
  const fromRootfs = from === undefined ? undefined : stageRootfs(ctx, from, ins);
  for (const src of sources) {
    const named = fromRootfs === undefined ? contextPath(ctx, src, ins) : path.join(fromRootfs, path.posix.resolve('/', src));
    if (!existsSync(named)) throw new Error(`Dockerfile line ${ins.line}: COPY ${src}: not found (${named})`);
    const srcHost = realpathSync(named); // docker follows a source that is a symlink (a linked full install)
    // Docker copies a folder's contents into DEST, and a file into DEST/ or as DEST.
    const isDir = statSync(srcHost).isDirectory();
    const target = isDir || !intoFolder ? destHost : path.join(destHost, path.basename(srcHost));
    mkdirSync(isDir ? target : path.dirname(target), { recursive: true, mode: 0o755 });
    const filter = fromRootfs === undefined ? (p: string) => !ctx.ignored(path.relative(ctx.root, p)) : undefined;
    cpSync(srcHost, target, { recursive: true, ...(filter ? { filter } : {}) });
  }
}

/** A COPY source from the build context; one .dockerignore excludes is missing for docker build too. */
function contextPath(ctx: Context, src: string, ins: Instruction): string {
  const relative = path.posix.normalize(src).replace(/\/$/, '');
  if (relative.startsWith('..') || relative.startsWith('/') || relative.includes('*')) {
    throw new Error(`Dockerfile line ${ins.line}: COPY ${src}: only plain paths inside the context are understood`);
  }
  if (ctx.ignored(relative)) throw new Error(`Dockerfile line ${ins.line}: COPY ${src}: excluded by .dockerignore`);
  return path.join(ctx.root, relative);
}

function stageRootfs(ctx: Context, name: string, ins: Instruction): string {
  const cached = ctx.built.get(name);
  if (cached) return cached.rootfs;
  const stage = ctx.stages.find((st) => st.name === name);
  if (!stage || stage === ctx.stages.at(-1)) throw new Error(`Dockerfile line ${ins.line}: COPY --from=${name}: no earlier stage of that name`);
  const built = buildStage(ctx, stage, false);
  ctx.built.set(name, built);
  return built.rootfs;
}

/**
 * The RUN lines an earlier stage may have, carried out here: `npm ci` with --omit=dev for real
 * (offline, from the npm cache the project's own `npm ci` filled); a full `npm ci` links the
 * project's node_modules, which is that install already; `npx tsc` as written.
 */
function run(ctx: Context, cwd: string, ins: Instruction): void {
  const words = ins.args.trim().split(/\s+/);
  const line = words.join(' ');
  if (/[;&|<>$`]/.test(line)) throw new Error(`Dockerfile line ${ins.line}: RUN ${line}: one plain command expected by test/helpers/runtime-tree.ts`);
  if (words[0] === 'npm' && words[1] === 'ci' && !words.includes('--omit=dev')) {
    symlinkSync(path.join(ctx.root, 'node_modules'), path.join(cwd, 'node_modules'));
  } else if (words[0] === 'npm' && words[1] === 'ci') {
    runOrThrow('npm', [...words.slice(1), '--offline'], cwd, ins);
  } else if (words[0] === 'npx' && words[1] === 'tsc') {
    runOrThrow('npx', ['--no-install', ...words.slice(1)], cwd, ins);
  } else {
    throw new Error(`Dockerfile line ${ins.line}: RUN ${line} is not in test/helpers/runtime-tree.ts's allow-list`);
  }
}

function runOrThrow(command: string, args: string[], cwd: string, ins: Instruction): void {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env['NODE_OPTIONS']; // tap's loader hooks are no part of the image build
  const r = spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) {
    const hint = args.includes('--offline') ? ' (offline: the npm cache must hold the packages; run `npm ci` once)' : '';
    throw new Error(`Dockerfile line ${ins.line}: ${command} ${args.join(' ')} exited ${r.status ?? r.signal}${hint}\n${r.stdout}${r.stderr}`);
  }
}

/** The node running the tests, at the node image's path (a hard link when the filesystem allows). */
function linkNode(rootfs: string): void {
  const bin = path.join(rootfs, 'usr', 'local', 'bin');
  mkdirSync(bin, { recursive: true, mode: 0o755 });
  try {
    linkSync(process.execPath, path.join(bin, 'node'));
  } catch {
    copyFileSync(process.execPath, path.join(bin, 'node'));
    chmodSync(path.join(bin, 'node'), 0o755);
  }
}

// Makes sure the code under test is compiled before anything starts: dist/ (what bin/custody-proxy.js
// runs) is rebuilt with tsconfig.build.json when any src/*.ts is newer than its .js, and the two
// programs in bench/children/ are compiled to plain JS in node_modules/.cache/custody-proxy-bench
// (git-ignored), so the pass-through runs as compiled JS like the proxy does, without a TypeScript loader.
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runToCompletion, tail } from './processes.js';

const BUILD_TIMEOUT_MS = 180_000;
export const CHILD_PROGRAMS = ['upstream', 'passthrough'] as const;

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...tsFiles(full));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

const mtime = (file: string): number => (existsSync(file) ? statSync(file).mtimeMs : -1);

/** Every src/**\/*.ts has a dist/**\/*.js at least as new. */
export function distIsFresh(root: string): boolean {
  const src = path.join(root, 'src');
  return tsFiles(src).every((file) => {
    const js = path.join(root, 'dist', path.relative(src, file)).replace(/\.ts$/, '.js');
    return mtime(js) >= mtime(file);
  });
}

async function tsc(root: string, logDir: string, name: string, args: readonly string[]): Promise<number | string> {
  const bin = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  return runToCompletion(name, [bin, ...args], logDir, root, BUILD_TIMEOUT_MS);
}

export async function ensureDist(root: string, logDir: string, force: boolean): Promise<string> {
  if (!force && distIsFresh(root)) return 'dist/ is up to date';
  const code = await tsc(root, logDir, 'build-dist', ['-p', 'tsconfig.build.json']);
  if (code === 0) return 'dist/ rebuilt';
  // tsc still emits on type errors; work in progress elsewhere in the tree must not stop the bench.
  if (!existsSync(path.join(root, 'dist', 'cli.js'))) throw new Error(`build failed (${code}):\n${tail(path.join(logDir, 'build-dist.out'))}`);
  return `dist/ rebuilt WITH TYPE ERRORS (exit ${code}), benchmarking what was emitted:\n${tail(path.join(logDir, 'build-dist.out'), 5)}`;
}

/** Compiles bench/children/upstream.ts and bench/children/passthrough.ts; returns the folder holding the .js files. */
export async function compileChildren(root: string, logDir: string, force: boolean): Promise<string> {
  const outDir = path.join(root, 'node_modules', '.cache', 'custody-proxy-bench');
  const sources = CHILD_PROGRAMS.map((n) => path.join(root, 'bench', 'children', `${n}.ts`));
  const fresh = CHILD_PROGRAMS.every((n, i) => mtime(path.join(outDir, `${n}.js`)) >= mtime(sources[i] ?? ''));
  if (fresh && !force) return outDir;
  mkdirSync(outDir, { recursive: true });
  // Below node_modules there is no package scope: say that these .js files are ES modules.
  writeFileSync(path.join(outDir, 'package.json'), '{ "type": "module" }\n');
  const flags = ['--target', 'ES2022', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--strict'];
  const more = ['--ignoreConfig', '--skipLibCheck', '--types', 'node', '--rootDir', path.join('bench', 'children'), '--outDir', outDir];
  const code = await tsc(root, logDir, 'build-children', [...flags, ...more, ...sources]);
  const emitted = CHILD_PROGRAMS.every((n) => existsSync(path.join(outDir, `${n}.js`)));
  if (code !== 0 || !emitted) throw new Error(`compiling bench children failed (${code}):\n${tail(path.join(logDir, 'build-children.out'))}`);
  return outDir;
}

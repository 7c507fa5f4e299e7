// `npm run bench:instructions [-- passthrough]`: instructions per GET, counted by valgrind's callgrind,
// for custody-proxy (default) or the bare pass-through. Unlike CPU time on this shared VM (two runs of
// one build differ by up to 8 %), the count repeats to about ±0.5 %, so a change of 1 % can be seen.
//   - node runs with --predictable (no concurrent compiler or GC threads), so when code is optimised no
//     longer depends on thread timing under valgrind;
//   - counting starts after a warm-up (BENCH_WARMUP_REQUESTS, 10 000) and covers BENCH_REQUESTS (2 000);
//   - TurboFan still recompiles now and then under valgrind: its share is printed apart, and "net" (the
//     rest) is the figure to compare.
// JIT-compiled functions are anonymous in callgrind; with BENCH_PERF_MAP=1 node also writes
// /tmp/perf-<pid>.map, which names them (the pid is printed), and the callgrind output is kept.
// BENCH_CACHE_SIM=1 also simulates the caches (32 KiB L1s, a 32 MiB 16-way last level like this host's
// L3) and prints misses per GET: two builds with the same instructions can still differ in how much
// memory they touch (session 5: custody's 16 MiB young generation against the pass-through's 8 MiB).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileChildren, ensureDist } from './lib/build.js';
import { writeCustodySetup } from './lib/custody-setup.js';
import { runLoad } from './lib/load.js';
import { runBounded, startChild, waitForLine, type Child } from './lib/processes.js';
import { int } from './lib/settings.js';
import { custodyPort, portFrom, startUpstream } from './lib/targets.js';

const PATH = '/v1/vaults';
const READY_TIMEOUT_MS = 120_000;
const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const log = (text: string): void => void process.stdout.write(`${text}\n`);

/** V8's compilers and parser: work that depends on when code gets optimised, not on what a request does. */
const COMPILER = /compiler::|turboshaft::|maglev::|baseline::|interpreter::|BytecodeGenerator|Parser|Zone::|CompilationJob/;

interface Counts {
  readonly total: number;
  readonly compiler: number;
  /** the PROGRAM TOTALS of every event recorded (Ir, the total above, and with cache simulation I1mr, D1mr, ...) */
  readonly events: ReadonlyMap<string, number>;
}

const CACHE_SIM = ['--cache-sim=yes', '--I1=32768,8,64', '--D1=32768,8,64', '--LL=33554432,16,64'];

/** The events line and the totals line of callgrind_annotate's header, as name → count. */
function totals(text: string): Map<string, number> {
  const names = /^Events shown:\s+(.*)$/m.exec(text)?.[1]?.trim().split(/\s+/) ?? [];
  const line = text.split('\n').find((l) => l.includes('PROGRAM TOTALS')) ?? '';
  // a count is digits with commas, or '.' for none
  const counts = [...line.matchAll(/([\d,]+|\.)(?: \([ \d.]+%\))?\s/g)].map((m) => (m[1] === '.' ? 0 : Number((m[1] ?? '0').replaceAll(',', ''))));
  return new Map(names.map((n, i) => [n, counts[i] ?? 0]));
}

/** Sums callgrind_annotate's per-function counts (its largest dump part is the measured window). */
function readCounts(outFile: string): Counts {
  const dir = path.dirname(outFile);
  let best: Counts = { total: 0, compiler: 0, events: new Map() };
  // callgrind.out itself is written only at exit; the dump is callgrind.out.1
  for (const name of readdirSync(dir).filter((f) => f.startsWith(`${path.basename(outFile)}.`))) {
    const text = execFileSync('callgrind_annotate', ['--threshold=100', path.join(dir, name)], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    const events = totals(text);
    const total = events.get('Ir') ?? 0;
    let compiler = 0;
    for (const line of text.split('\n')) {
      // a function's line: its instruction count first, its name last
      const m = /^\s*([\d,]+) \([ \d.]+%\)\s+(.*)$/.exec(line);
      if (m && !(m[2] ?? '').includes('PROGRAM TOTALS') && COMPILER.test(m[2] ?? '')) compiler += Number((m[1] ?? '0').replaceAll(',', ''));
    }
    if (total > best.total) best = { total, compiler, events };
  }
  return best;
}

function callgrindControl(child: Child, ...args: string[]): void {
  execFileSync('callgrind_control', [...args, String(child.pid)], { stdio: 'ignore' });
}

async function measure(target: 'custody-proxy' | 'passthrough', logDir: string): Promise<void> {
  const warmup = int(process.env, 'BENCH_WARMUP_REQUESTS', 10_000, 100, 100_000);
  const requests = int(process.env, 'BENCH_REQUESTS', 2000, 100, 100_000);
  const [dist, childDir] = await Promise.all([ensureDist(root, logDir, false), compileChildren(root, logDir, false)]);
  log(`build: ${dist}`);
  const up = await startUpstream(childDir, logDir, root);
  const configDir = path.join(logDir, 'config');
  mkdirSync(configDir);
  const setup = writeCustodySetup(configDir, up.url, 300);
  const outFile = path.join(logDir, 'callgrind.out');
  const cacheSim = process.env['BENCH_CACHE_SIM'] === '1';
  const nodeArgs = ['--predictable', ...(process.env['BENCH_PERF_MAP'] === '1' ? ['--perf-basic-prof'] : [])];
  const program =
    target === 'passthrough' ? [path.join(childDir, 'passthrough.js'), up.url] : ['bin/custody-proxy.js', 'serve', '--config', setup.configFile];
  const child = startChild(
    target,
    ['--tool=callgrind', ...(cacheSim ? CACHE_SIM : []), '--instr-atstart=no', `--callgrind-out-file=${outFile}`, process.execPath, ...nodeArgs, ...program],
    logDir,
    root,
    'valgrind',
  );
  const port = await waitForLine(child, target === 'passthrough' ? portFrom('bench passthrough ready') : custodyPort, READY_TIMEOUT_MS);
  log(`${target} under callgrind (pid ${child.pid}), upstream ${up.url}; ${warmup} warm-up GETs, then ${requests} counted`);
  const load = { url: `http://127.0.0.1:${port}${PATH}`, connections: 20, durationS: 600, headers: { authorization: setup.authorization } };
  const warm = await runLoad({ ...load, amount: warmup });
  callgrindControl(child, '-i', 'on');
  const counted = await runLoad({ ...load, amount: requests });
  callgrindControl(child, '-i', 'off');
  callgrindControl(child, '-d');
  const bad = warm.non2xx + warm.errors + counted.non2xx + counted.errors;
  if (bad > 0) throw new Error(`${bad} requests failed or were not 2xx; the count would not be of GETs`);
  const c = readCounts(outFile);
  const per = (n: number): string => Math.round(n / counted.requests).toLocaleString('en-US');
  log(`instructions per GET: total ${per(c.total)}, compiler ${per(c.compiler)}, net ${per(c.total - c.compiler)}`);
  if (cacheSim) {
    const e = (name: string): number => c.events.get(name) ?? 0;
    log(
      `simulated cache misses per GET: L1 instruction ${per(e('I1mr'))}, L1 data read ${per(e('D1mr'))}, L1 data write ${per(e('D1mw'))}; ` +
        `last level (32 MiB) read ${per(e('DLmr') + e('ILmr'))}, write ${per(e('DLmw'))}`,
    );
  }
}

async function main(): Promise<void> {
  const arg = process.argv[2] ?? 'custody-proxy';
  if (arg !== 'custody-proxy' && arg !== 'passthrough') throw new Error(`usage: npm run bench:instructions [-- custody-proxy|passthrough]`);
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'custody-proxy-instructions-'));
  const keep = process.env['BENCH_PERF_MAP'] === '1';
  const cleanup = (): void => {
    if (keep) log(`callgrind output kept in ${logDir}`);
    else rmSync(logDir, { recursive: true, force: true });
  };
  await runBounded('bench:instructions', 600_000, cleanup, () => measure(arg, logDir));
}

await main();

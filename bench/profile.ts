// `npm run bench:profile`: where custody-proxy's extra time per GET goes, from native sampling profiles
// (`perf record -e cpu-clock`, with node's --perf-basic-prof naming JIT code) of custody-proxy and of the
// bare pass-through, recorded together while the same load takes turns between them. It prints µs per GET in all, by kind
// of code, inside each of custody-proxy's own functions (inclusive), and the symbols whose self time
// differs most between the two. Unlike callgrind (bench:instructions) this is real time on real caches:
// session 6 found String() of the access line's durations costing 2.2 µs a GET here while callgrind and a
// loop showed nothing. Totals and per-function figures still move with the machine (about ±10 %; compare
// within one run). Needs `perf` (linux-perf); sends traffic only to 127.0.0.1.
//   BENCH_REQUESTS (60 000) measured GETs per target, after BENCH_WARMUP_REQUESTS (20 000)
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileChildren, ensureDist } from './lib/build.js';
import { runLoad } from './lib/load.js';
import { cpuSeconds, runBounded, stopChild, type Child } from './lib/processes.js';
import { byKind, inclusiveUs, OWN_CODE, parsePerfScript, selfUs, totalUs, type Profile } from './lib/perf-stacks.js';
import { sliceOrder } from './lib/report.js';
import { int } from './lib/settings.js';
import { startProxies, startUpstream, writeSetup } from './lib/targets.js';

const PATH = '/v1/vaults';
const FREQUENCY_HZ = 4000;
const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const log = (text: string): void => void process.stdout.write(`${text}\n`);


type Target = 'custody-proxy' | 'passthrough';

interface Measured {
  readonly profile: Profile;
  readonly cpuUsPerReq: number;
  readonly reqPerSec: number;
}

interface Running {
  readonly target: Target;
  readonly child: Child;
  readonly url: string;
}

const SLICES = 8;

/**
 * Profiles both targets at once while the load takes turns between them in slices (A B B A …), so a slow
 * phase of the machine falls on both alike; perf's cpu-clock samples a process only while it runs.
 */
async function recordBoth(targets: readonly Running[], authorization: string, logDir: string): Promise<Map<Target, Measured>> {
  const requests = int(process.env, 'BENCH_REQUESTS', 60_000, 1000, 500_000);
  const warmup = int(process.env, 'BENCH_WARMUP_REQUESTS', 20_000, 1000, 500_000);
  const load = (t: Running, amount: number) => runLoad({ url: t.url + PATH, connections: 50, durationS: 600, amount, headers: { authorization } });
  for (const t of targets) await load(t, warmup);
  const perfs = targets.map((t) => {
    const data = path.join(logDir, `${t.target}.perf.data`);
    const perf = spawn('perf', ['record', '-q', '-g', '-e', 'cpu-clock', '-F', String(FREQUENCY_HZ), '-p', String(t.child.pid), '-o', data], { stdio: ['ignore', 'ignore', 'inherit'] });
    return { t, data, perf, exited: new Promise<void>((resolve) => perf.once('exit', () => resolve())), cpu0: 0, requests: 0, seconds: 0, bad: 0 };
  });
  await new Promise((resolve) => setTimeout(resolve, 500));
  for (const p of perfs) p.cpu0 = cpuSeconds(p.t.child.pid);
  for (let i = 0; i < SLICES; i++) {
    for (const p of sliceOrder(i, perfs)) {
      const r = await load(p.t, Math.ceil(requests / SLICES));
      p.requests += r.requests;
      p.seconds += r.durationS;
      p.bad += r.non2xx + r.errors;
    }
  }
  const out = new Map<Target, Measured>();
  for (const p of perfs) {
    const cpuS = cpuSeconds(p.t.child.pid) - p.cpu0;
    p.perf.kill('SIGINT');
    await Promise.race([p.exited, new Promise((resolve) => setTimeout(resolve, 20_000))]);
    if (p.bad > 0) throw new Error(`${p.t.target}: ${p.bad} requests failed or were not 2xx`);
    // perf reads /tmp/perf-<pid>.map (written by --perf-basic-prof) to name JIT frames
    const text = execFileSync('perf', ['script', '-i', p.data, '-F', 'ip,sym'], { encoding: 'utf8', maxBuffer: 1024 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] });
    out.set(p.t.target, { profile: parsePerfScript(text, FREQUENCY_HZ, p.requests), cpuUsPerReq: (cpuS * 1e6) / p.requests, reqPerSec: p.requests / p.seconds });
  }
  return out;
}

const us = (n: number | undefined): string => (n ?? 0).toFixed(2).padStart(7);
const shortName = (symbol: string): string => symbol.replace(/^JS:[*^~+]?/, '').replace(/file:\/\/\/.*?\/dist\//, 'dist/').replace(/\/.*?node_modules\//, '').slice(0, 100);

function report(c: Measured, p: Measured): void {
  log(`\nCPU µs per GET (/proc): custody-proxy ${c.cpuUsPerReq.toFixed(1)}, pass-through ${p.cpuUsPerReq.toFixed(1)} (ratio ${(p.cpuUsPerReq / c.cpuUsPerReq).toFixed(3)})`);
  log(`sampled µs per GET:     custody-proxy ${totalUs(c.profile).toFixed(1)}, pass-through ${totalUs(p.profile).toFixed(1)}`);
  log('\nself time by kind of code   custody   pass   diff');
  const ck = byKind(c.profile);
  const pk = byKind(p.profile);
  for (const k of [...new Set([...ck.keys(), ...pk.keys()])].sort()) log(`  ${k.padEnd(24)} ${us(ck.get(k))} ${us(pk.get(k))} ${us((ck.get(k) ?? 0) - (pk.get(k) ?? 0))}`);
  log("\ncustody-proxy's own functions, inclusive µs per GET (callees included; nested ones overlap)");
  const own = [...inclusiveUs(c.profile, OWN_CODE)].sort((a, b) => b[1] - a[1]).slice(0, 25);
  for (const [name, n] of own) log(`  ${us(n)}  ${shortName(name)}`);
  log('\nsymbols whose self time differs most (custody, pass-through, difference)');
  const cs = selfUs(c.profile);
  const ps = selfUs(p.profile);
  const diffs = [...new Set([...cs.keys(), ...ps.keys()])].map((s): [string, number] => [s, (cs.get(s) ?? 0) - (ps.get(s) ?? 0)]).sort((a, b) => b[1] - a[1]);
  for (const [s, d] of [...diffs.slice(0, 30), ...diffs.slice(-10)]) log(`  ${us(cs.get(s))} ${us(ps.get(s))} ${us(d)}  ${shortName(s)}`);
}

async function profileBoth(logDir: string): Promise<void> {
  try {
    execFileSync('perf', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('perf is not installed (Debian: apt-get install linux-perf)');
  }
  const [dist, childDir] = await Promise.all([ensureDist(root, logDir, false), compileChildren(root, logDir, false)]);
  log(`build: ${dist}`);
  const up = await startUpstream(childDir, logDir, root);
  const options = { root, logDir, childDir, credentials: 300 };
  const setup = writeSetup(options, up.url);
  const proxies = await startProxies(options, up.url, setup, '', ['--perf-basic-prof']);
  const targets: Running[] = [
    { target: 'custody-proxy', child: proxies.custody, url: proxies.custodyUrl },
    { target: 'passthrough', child: proxies.passthrough, url: proxies.passthroughUrl },
  ];
  let measured: Map<Target, Measured>;
  try {
    measured = await recordBoth(targets, setup.authorization, logDir);
  } finally {
    for (const t of targets) {
      await stopChild(t.child);
      rmSync(`/tmp/perf-${t.child.pid}.map`, { force: true });
    }
  }
  for (const [target, m] of measured) log(`${target}: ${m.reqPerSec.toFixed(0)} req/s under perf, ${m.profile.stacks.length} samples`);
  const c = measured.get('custody-proxy');
  const p = measured.get('passthrough');
  if (c && p) report(c, p);
}

async function main(): Promise<void> {
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'custody-proxy-profile-'));
  // the perf.data files live in logDir too
  await runBounded('bench:profile', 900_000, () => rmSync(logDir, { recursive: true, force: true }), () => profileBoth(logDir));
}

await main();

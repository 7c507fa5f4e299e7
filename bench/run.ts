// `npm run bench`: custody-proxy against a bare http-proxy-3 pass-through, in one run, on the same
// upstream and the same keep-alive load, alternating within each round; prints each round, the medians
// and the ratios, and writes bench/results/latest.json. See bench/README.md for how to read the figures.
// Every round starts both proxies afresh (and warms them up): a process's speed depends on its start
// (memory layout; one-start runs of the same two builds gave 0.79 to 1.02 in session 5), so one start per
// round makes the median a median over starts too. Within a round the two targets take turns in short
// slices (A B B A …), and the headline ratio is the median of the rounds' own ratios (see report.ts).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileChildren, ensureDist } from './lib/build.js';
import { runLoad, type LoadResult } from './lib/load.js';
import { cpuSeconds, runBounded, stopChild, type Child } from './lib/processes.js';
import { formatSummary, median, invalidRounds, invalidWarning, roundHeader, roundLine, sliceOrder, summarize, TARGETS, type Round, type Summary, type Target } from './lib/report.js';
import { readSettings, type Settings } from './lib/settings.js';
import { preflight, startProxies, startUpstream, writeSetup, type Started } from './lib/targets.js';

const PATH = '/v1/vaults';
const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const log = (text: string): void => void process.stdout.write(`${text}\n`);

function targetOf(s: Started, t: Target): { child: Child; url: string } {
  return t === 'custody-proxy' ? { child: s.custody, url: s.custodyUrl + PATH } : { child: s.passthrough, url: s.passthroughUrl + PATH };
}

interface Slice {
  readonly load: LoadResult;
  readonly wallS: number;
  readonly proxyS: number;
  readonly upstreamS: number;
  readonly loadgenS: number;
}

async function measureSlice(s: Started, settings: Settings, target: Target): Promise<Slice> {
  const { child, url } = targetOf(s, target);
  const proxy0 = cpuSeconds(child.pid);
  const upstream0 = cpuSeconds(s.upstream.pid);
  const loadgen0 = process.cpuUsage();
  const t0 = performance.now();
  const load = await runLoad({ url, connections: settings.connections, durationS: settings.durationS / settings.slices, headers: { authorization: s.setup.authorization } });
  const wallS = (performance.now() - t0) / 1000;
  const lg = process.cpuUsage(loadgen0);
  return { load, wallS, proxyS: cpuSeconds(child.pid) - proxy0, upstreamS: cpuSeconds(s.upstream.pid) - upstream0, loadgenS: (lg.user + lg.system) / 1e6 };
}

/** A target's slices of one round as one Round: sums, with p50/p99 the medians over its slices. */
function combine(target: Target, round: number, slices: readonly Slice[]): Round {
  const sum = (f: (x: Slice) => number): number => slices.reduce((a, x) => a + f(x), 0);
  const requests = sum((x) => x.load.requests);
  const durationS = sum((x) => x.load.durationS);
  const wallS = sum((x) => x.wallS);
  const pct = (cpuS: number): number => (100 * cpuS) / wallS;
  return {
    target,
    round,
    durationS,
    requests,
    reqPerSec: requests / durationS,
    p50Ms: median(slices.map((x) => x.load.p50Ms)),
    p99Ms: median(slices.map((x) => x.load.p99Ms)),
    non2xx: sum((x) => x.load.non2xx),
    errors: sum((x) => x.load.errors),
    cpuUsPerReq: requests > 0 ? (sum((x) => x.proxyS) * 1e6) / requests : Number.NaN,
    proxyCpuPct: pct(sum((x) => x.proxyS)),
    upstreamCpuPct: pct(sum((x) => x.upstreamS)),
    loadgenCpuPct: pct(sum((x) => x.loadgenS)),
  };
}

/**
 * One round: each target's BENCH_DURATION in `slices` slices, interleaved A B B A A B …, so that a slow
 * phase of the host (they come and go within seconds here) falls on both targets of the round alike.
 */
async function measureRound(s: Started, settings: Settings, round: number): Promise<Round[]> {
  const slices = new Map<Target, Slice[]>(TARGETS.map((t) => [t, []]));
  for (let i = 0; i < settings.slices; i++) {
    for (const t of sliceOrder(i, TARGETS)) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      slices.get(t)?.push(await measureSlice(s, settings, t));
    }
  }
  return TARGETS.map((t) => combine(t, round, slices.get(t) ?? []));
}

/** Unmeasured load on each target; returns its req/s per target, for the log. */
async function warmUp(s: Started, settings: Settings): Promise<string> {
  if (settings.warmupS === 0) return 'no warm-up';
  const out: string[] = [];
  for (const t of TARGETS) {
    const w = await runLoad({ url: targetOf(s, t).url, connections: settings.connections, durationS: settings.warmupS, headers: { authorization: s.setup.authorization } });
    out.push(`${t} ${w.reqPerSec.toFixed(0)} req/s`);
  }
  return `warm-up ${out.join(', ')}`;
}

interface RunRecord {
  readonly settings: Settings;
  readonly loadAverageAtStart: readonly number[];
  readonly rounds: readonly Round[];
  readonly summary: Summary;
  readonly valid: boolean;
  readonly startedAt: number;
}

/** bench/results/latest.json (git-ignored); returns the run's elapsed seconds. */
function writeResults(r: RunRecord): number {
  const resultsDir = path.join(root, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const elapsedS = (Date.now() - r.startedAt) / 1000;
  const out = {
    generatedAt: new Date().toISOString(),
    machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, loadAverageAtStart: r.loadAverageAtStart, loadAverageAtEnd: os.loadavg() },
    settings: { ...r.settings, path: PATH, pipelining: 1 },
    valid: r.valid,
    rounds: r.rounds,
    summary: r.summary,
    elapsedS,
  };
  writeFileSync(path.join(resultsDir, 'latest.json'), `${JSON.stringify(out, null, 2)}\n`);
  return elapsedS;
}

async function bench(settings: Settings, logDir: string): Promise<void> {
  const t0 = Date.now();
  const loadAverageAtStart = os.loadavg();
  log(`custody-proxy bench: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), node ${process.version}, load average ${loadAverageAtStart.map((n) => n.toFixed(2)).join(' ')}`);
  log(`${settings.rounds} rounds x ${settings.durationS} s per target (in ${settings.slices} interleaved slices), ${settings.connections} keep-alive connections, GET ${PATH}; loadgen, proxies and upstream share the machine`);
  const [dist, childDir] = await Promise.all([ensureDist(root, logDir, settings.forceBuild), compileChildren(root, logDir, settings.forceBuild)]);
  log(`build: ${dist}`);
  const options = { root, logDir, childDir, credentials: settings.credentials };
  const upstream = await startUpstream(childDir, logDir, root);
  const setup = writeSetup(options, upstream.url);
  log(`upstream ${upstream.url} (pid ${upstream.child.pid}), ${setup.credentialCount} credentials; each round starts both proxies afresh and warms them up for ${settings.warmupS} s each`);
  const rounds: Round[] = [];
  for (let round = 1; round <= settings.rounds; round++) {
    const proxies = await startProxies(options, upstream.url, setup, `-${round}`);
    const started: Started = { upstream: upstream.child, upstreamUrl: upstream.url, setup, ...proxies };
    await preflight(started, PATH);
    const warm = await warmUp(started, settings);
    if (round === 1) log(`\n${roundHeader()}`);
    const measured = await measureRound(started, settings, round);
    for (const r of measured) log(roundLine(r));
    rounds.push(...measured);
    log(`       (custody-proxy pid ${proxies.custody.pid}, passthrough pid ${proxies.passthrough.pid}; ${warm})`);
    await Promise.all([stopChild(proxies.custody), stopChild(proxies.passthrough)]);
  }
  const summary = summarize(rounds);
  const invalid = invalidRounds(rounds);
  log('');
  log(formatSummary(summary));
  if (invalid.length > 0) log(invalidWarning(invalid.length));
  const elapsedS = writeResults({ settings, loadAverageAtStart, rounds, summary, valid: invalid.length === 0, startedAt: t0 });
  log(`\nwrote bench/results/latest.json (${elapsedS.toFixed(0)} s)`);
  if (invalid.length > 0) process.exitCode = 1;
}

async function main(): Promise<void> {
  // five rounds by default: five starts of each proxy
  const settings = readSettings({ BENCH_ROUNDS: '5', ...process.env });
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'custody-proxy-bench-'));
  const removeLogs = (): void => rmSync(logDir, { recursive: true, force: true });
  // Builds, then per round: two starts, two warm-ups and two measured loads, with room to spare.
  const budgetMs = 240_000 + settings.rounds * (2 * (settings.durationS + settings.warmupS) + 30) * 1000;
  await runBounded('bench', budgetMs, removeLogs, () => bench(settings, logDir));
}

await main();

// `npm run bench`: custody-proxy against a bare http-proxy-3 pass-through, in one run, on the same
// upstream and the same keep-alive load, alternating within each round; prints each round, the medians
// and the ratios, and writes bench/results/latest.json. See bench/README.md for how to read the figures.
// Every round starts both proxies afresh (and warms them up): a process's speed depends on its start
// (memory layout; one-start runs of the same two builds gave 0.79 to 1.02 in session 5), so one start per
// round makes the median a median over starts too.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileChildren, ensureDist } from './build.js';
import { runLoad } from './load.js';
import { cpuSeconds, runBounded, stopChild, type Child } from './processes.js';
import { alternateRounds, formatSummary, invalidRounds, invalidWarning, roundHeader, roundLine, summarize, TARGETS, type Round, type Summary, type Target } from './report.js';
import { readSettings, type Settings } from './settings.js';
import { preflight, startProxies, startUpstream, writeSetup, type Started } from './targets.js';

const PATH = '/v1/vaults';
const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const log = (text: string): void => void process.stdout.write(`${text}\n`);

function targetOf(s: Started, t: Target): { child: Child; url: string } {
  return t === 'custody-proxy' ? { child: s.custody, url: s.custodyUrl + PATH } : { child: s.passthrough, url: s.passthroughUrl + PATH };
}

async function measure(s: Started, settings: Settings, target: Target, round: number): Promise<Round> {
  const { child, url } = targetOf(s, target);
  const proxy0 = cpuSeconds(child.pid);
  const upstream0 = cpuSeconds(s.upstream.pid);
  const loadgen0 = process.cpuUsage();
  const t0 = performance.now();
  const load = await runLoad({ url, connections: settings.connections, durationS: settings.durationS, headers: { authorization: s.setup.authorization } });
  const wallS = (performance.now() - t0) / 1000;
  const proxyS = cpuSeconds(child.pid) - proxy0;
  const upstreamS = cpuSeconds(s.upstream.pid) - upstream0;
  const lg = process.cpuUsage(loadgen0);
  const pct = (cpuS: number): number => (100 * cpuS) / wallS;
  return {
    ...load,
    target,
    round,
    cpuUsPerReq: load.requests > 0 ? (proxyS * 1e6) / load.requests : Number.NaN,
    proxyCpuPct: pct(proxyS),
    upstreamCpuPct: pct(upstreamS),
    loadgenCpuPct: pct((lg.user + lg.system) / 1e6),
  };
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
  log(`${settings.rounds} rounds x ${settings.durationS} s per target, ${settings.connections} keep-alive connections, GET ${PATH}; loadgen, proxies and upstream share the machine`);
  const [dist, childDir] = await Promise.all([ensureDist(root, logDir, settings.forceBuild), compileChildren(root, logDir, settings.forceBuild)]);
  log(`build: ${dist}`);
  const options = { root, logDir, childDir, credentials: settings.credentials, cpuProfDir: settings.cpuProfDir };
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
    rounds.push(...(await alternateRounds(1, TARGETS, (t) => measure(started, settings, t, round), (r) => log(roundLine(r)))));
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

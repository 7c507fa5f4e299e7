// `npm run bench:ratelimit` (also the last part of `npm run bench`): what a rate limit costs on GET
// (issue 17). One upstream, three custody-proxies on the same document except tenant tnt_bench_0's
// `rateLimit` (none; a memory limit set too high ever to refuse; the same limit on the redis limiter
// under a key prefix of this run's own), loaded in alternating rounds. Prints each round and the median
// of the per-round ratios limited ÷ unlimited req/s against the targets (memory ≥ 0.97, redis ≥ 0.7).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileChildren, ensureDist } from './lib/build.js';
import { writeCustodySetup, type CustodySetup } from './lib/custody-setup.js';
import { runLoad, type LoadResult } from './lib/load.js';
import { plainRequest } from './lib/plain-request.js';
import { runBounded, type Child } from './lib/processes.js';
import { alternateRounds, invalidRounds, invalidWarning, median } from './lib/report.js';
import { readSettings, type Settings } from './lib/settings.js';
import { startCustody, startUpstream } from './lib/targets.js';

const PATH = '/v1/vaults?limit=10';
const TARGETS = { memory: 0.97, redis: 0.7 } as const;
type Case = 'unlimited' | keyof typeof TARGETS;
const CASES: readonly Case[] = ['unlimited', 'memory', 'redis'];
// Never refuses at bench rates, so every request pays for a check and none is a cheap 429.
const NEVER_REFUSES = { limit: 1_000_000_000, window: '1s' };
const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const log = (text: string): void => void process.stdout.write(`${text}\n`);

interface Proxy { readonly child: Child; readonly url: string; readonly setup: CustodySetup }

async function startProxy(c: Case, logDir: string, upstreamUrl: string, settings: Settings, keyPrefix: string): Promise<Proxy> {
  const dir = path.join(logDir, `config-${c}`);
  mkdirSync(dir);
  const setup = writeCustodySetup(dir, upstreamUrl, settings.credentials);
  if (c !== 'unlimited') {
    const credsFile = path.join(dir, 'credentials.yaml');
    const doc = JSON.parse(readFileSync(credsFile, 'utf8')) as { tenants: Array<Record<string, unknown>> };
    for (const t of doc.tenants) if (t['id'] === setup.tenantId) t['rateLimit'] = NEVER_REFUSES;
    writeFileSync(credsFile, JSON.stringify(doc, null, 1));
    const config = JSON.parse(readFileSync(setup.configFile, 'utf8')) as Record<string, unknown>;
    config['rateLimits'] = { store: c };
    if (c === 'redis') config['idempotency'] = { redis: { url: 'redis://127.0.0.1:6379', keyPrefix } };
    writeFileSync(setup.configFile, JSON.stringify(config, null, 2));
  }
  return { ...(await startCustody(`custody-${c}`, setup.configFile, logDir, root)), setup };
}

function load(p: Proxy, settings: Settings, durationS: number): Promise<LoadResult> {
  return runLoad({ url: p.url + PATH, connections: settings.connections, durationS, method: 'GET', headers: { authorization: p.setup.authorization } });
}

async function bench(settings: Settings, logDir: string, keyPrefix: string): Promise<void> {
  log(`custody-proxy rate-limit bench: ${os.cpus().length} cores, node ${process.version}, load average ${os.loadavg().map((n) => n.toFixed(2)).join(' ')}`);
  log(`${settings.rounds} rounds x ${settings.durationS} s per case, ${settings.connections} connections, GET ${PATH}`);
  const [, childDir] = await Promise.all([ensureDist(root, logDir, settings.forceBuild), compileChildren(root, logDir, settings.forceBuild)]);
  const { url: upstreamUrl } = await startUpstream(childDir, logDir, root);
  const proxies = Object.fromEntries(await Promise.all(CASES.map(async (c) => [c, await startProxy(c, logDir, upstreamUrl, settings, keyPrefix)] as const))) as Record<Case, Proxy>;
  for (const c of CASES) {
    const res = await plainRequest(proxies[c].url + PATH, { headers: { authorization: proxies[c].setup.authorization } });
    if (res.status !== 200) throw new Error(`preflight ${c}: GET answered ${res.status}`);
    if (settings.warmupS > 0) await load(proxies[c], settings, settings.warmupS);
  }
  const rounds = await alternateRounds(settings.rounds, CASES, async (c, round) => ({ ...(await load(proxies[c], settings, settings.durationS)), case: c, round }),
    (r) => log(`round ${r.round}  ${r.case.padEnd(9)}  ${r.reqPerSec.toFixed(0).padStart(7)} req/s  p50 ${r.p50Ms.toFixed(1)} ms  p99 ${r.p99Ms.toFixed(1)} ms  non-2xx ${r.non2xx}  errors ${r.errors}`));
  // The median of each round's own ratio: the machine's speed drifts between rounds (bench/run.ts does the same).
  for (const c of ['memory', 'redis'] as const) {
    const ratio = median(rounds.filter((r) => r.case === c).flatMap((r) => {
      const base = rounds.find((u) => u.case === 'unlimited' && u.round === r.round);
      return base ? [r.reqPerSec / base.reqPerSec] : [];
    }));
    log(`ratio req/s  ${c}-limit / unlimited = ${ratio.toFixed(3)}  (${ratio >= TARGETS[c] ? 'meets' : 'BELOW'} target ${TARGETS[c]})`);
  }
  const invalid = invalidRounds(rounds);
  if (invalid.length > 0) {
    log(invalidWarning(invalid.length));
    process.exitCode = 1;
  }
}

const settings = readSettings();
const logDir = mkdtempSync(path.join(os.tmpdir(), 'custody-proxy-ratelimit-bench-'));
const keyPrefix = `bench:rl:${process.pid}:${Date.now()}:`;
// Redis keys of this run expire by themselves (a bucket's key lives until the bucket would be full: ~1 s).
const budgetMs = 240_000 + 3 * (settings.rounds * (settings.durationS + 2) + settings.warmupS) * 1000;
await runBounded('rate-limit bench', budgetMs, () => rmSync(logDir, { recursive: true, force: true }), () => bench(settings, logDir, keyPrefix), async () => undefined);

// `npm run bench:keyed` (the second half of `npm run bench`): what idempotency keys cost on POST. One
// upstream, two custody-proxies (A: `idempotency.store: memory`, B: `idempotency.store: redis` with a key
// prefix of this run's own), and three loads in alternating rounds: unkeyed POST → A, keyed POST (a
// unique Idempotency-Key per request) → A, keyed POST → B. Prints each round, the medians and the ratios
// keyed ÷ unkeyed, writes bench/results/keyed-latest.json, and deletes this run's Redis keys at the end.
// See "Keyed POSTs" in bench/README.md.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { compileChildren, ensureDist } from './lib/build.js';
import { echoedTenant, writeCustodySetup, type CustodySetup, type IdempotencySection } from './lib/custody-setup.js';
import { runLoad, type LoadResult } from './lib/load.js';
import { plainRequest } from './lib/plain-request.js';
import { cpuSeconds, runBounded, type Child } from './lib/processes.js';
import { alternateRounds, invalidRounds, invalidWarning, median } from './lib/report.js';
import { readSettings, type Settings } from './lib/settings.js';
import { startCustody, startUpstream } from './lib/targets.js';

const PATH = '/v1/vaults';
const REDIS_URL = 'redis://127.0.0.1:6379';
const TTL = '5m';
/** req/s of the keyed case ÷ req/s of unkeyed POSTs, from the issue */
const TARGETS = { 'keyed-memory': 0.85, 'keyed-redis': 0.6 } as const;
// ~100 bytes of JSON, the same for every request and every case.
const BODY = JSON.stringify({ asset: 'BTC', label: 'bench vault', policy: { quorum: 2, signers: 3 }, ref: 'bench-0000000000000000' });

const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const log = (text: string): void => void process.stdout.write(`${text}\n`);

type Case = 'unkeyed' | 'keyed-memory' | 'keyed-redis';
const CASES: readonly Case[] = ['unkeyed', 'keyed-memory', 'keyed-redis'];

interface Proxy {
  readonly child: Child;
  readonly url: string;
  readonly setup: CustodySetup;
}

interface Started {
  readonly upstream: Child;
  readonly memory: Proxy;
  readonly redis: Proxy;
}

interface KeyedRound extends LoadResult {
  readonly case: Case;
  readonly round: number;
  readonly cpuUsPerReq: number;
  /** % of one core during the round */
  readonly proxyCpuPct: number;
  readonly upstreamCpuPct: number;
  /** redis-server's CPU per request (NaN when its PID is not readable, e.g. Redis in a container) */
  readonly redisCpuUsPerReq: number;
  readonly loadgenCpuPct: number;
}

interface CaseSummary {
  readonly reqPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuUsPerReq: number;
  readonly redisCpuUsPerReq: number;
}

async function startProxy(name: string, logDir: string, upstreamUrl: string, settings: Settings, idempotency: IdempotencySection): Promise<Proxy> {
  // A folder of its own per proxy: custody-proxy re-reads its credentials on any change in that folder.
  const dir = path.join(logDir, `config-${name}`);
  mkdirSync(dir);
  const setup = writeCustodySetup(dir, upstreamUrl, settings.credentials, idempotency);
  return { ...(await startCustody(name, setup.configFile, logDir, root)), setup };
}

async function startAll(logDir: string, childDir: string, settings: Settings, keyPrefix: string): Promise<Started> {
  const { child: upstream, url: upstreamUrl } = await startUpstream(childDir, logDir, root);
  const [memory, redis] = await Promise.all([
    startProxy('custody-memory', logDir, upstreamUrl, settings, { store: 'memory', ttl: TTL }),
    startProxy('custody-redis', logDir, upstreamUrl, settings, { store: 'redis', redis: { url: REDIS_URL, keyPrefix }, ttl: TTL }),
  ]);
  return { upstream, memory, redis };
}

async function post(p: Proxy, key: string | undefined): Promise<{ status: number; replayed: string | null; tenant: unknown }> {
  const headers: Record<string, string> = { authorization: p.setup.authorization, 'content-type': 'application/json' };
  if (key !== undefined) headers['idempotency-key'] = key;
  const res = await plainRequest(p.url + PATH, { method: 'POST', headers, body: BODY });
  const replayed = res.headers['idempotent-replayed'];
  return { status: res.status, replayed: typeof replayed === 'string' ? replayed : null, tenant: echoedTenant(res.text) };
}

/** Both stores must really be in use: a keyed POST answers 2xx from the upstream, its repeat is a replay. */
async function preflight(s: Started, redis: Redis, keyPrefix: string): Promise<void> {
  const plain = await post(s.memory, undefined);
  if (plain.status < 200 || plain.status > 299 || plain.tenant !== s.memory.setup.tenantId) {
    throw new Error(`preflight: unkeyed POST answered ${plain.status}, upstream saw tenant ${JSON.stringify(plain.tenant)}`);
  }
  for (const [name, p] of [['memory', s.memory], ['redis', s.redis]] as const) {
    const key = `preflight-${name}-${randomBytes(8).toString('hex')}`;
    const first = await post(p, key);
    if (first.status < 200 || first.status > 299 || first.replayed !== null) {
      throw new Error(`preflight ${name}: keyed POST answered ${first.status} (idempotent-replayed: ${String(first.replayed)})`);
    }
    const again = await post(p, key);
    if (again.status < 200 || again.status > 299 || again.replayed !== 'true') {
      throw new Error(`preflight ${name}: repeated key answered ${again.status} with idempotent-replayed: ${String(again.replayed)}, not a replay`);
    }
  }
  const [, found] = await redis.scan('0', 'MATCH', `${keyPrefix}*`, 'COUNT', 1000);
  if (found.length === 0) throw new Error(`preflight redis: no key under ${keyPrefix} in ${REDIS_URL}; is custody-redis using that Redis?`);
}

/** redis-server's PID from INFO, if its /proc entry is readable here (not when Redis runs elsewhere). */
async function redisPid(redis: Redis): Promise<number | undefined> {
  const info = await redis.info('server');
  const pid = Number(/^process_id:(\d+)/m.exec(info)?.[1]);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    cpuSeconds(pid);
    return pid;
  } catch {
    return undefined;
  }
}

/** SCAN + DEL of every key under this run's prefix; returns how many were deleted. */
async function deleteKeys(redis: Redis, keyPrefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.del(...keys);
  } while (cursor !== '0');
  return deleted;
}

function loadFor(s: Started, c: Case, settings: Settings, durationS: number, keyOf: () => string): Promise<LoadResult> {
  const p = c === 'keyed-redis' ? s.redis : s.memory;
  // Every case sends a per-request header of the same size, so the load generator does the same work
  // (autocannon rebuilds each request) and the requests differ only in the header's name.
  const header = c === 'unkeyed' ? 'x-bench-seq' : 'idempotency-key';
  return runLoad({
    url: p.url + PATH,
    connections: settings.connections,
    durationS,
    method: 'POST',
    body: BODY,
    headers: { authorization: p.setup.authorization, 'content-type': 'application/json' },
    perRequestHeaders: () => ({ [header]: keyOf() }),
  });
}

async function measure(s: Started, c: Case, round: number, settings: Settings, keyOf: () => string, redisPidN: number | undefined): Promise<KeyedRound> {
  const child = c === 'keyed-redis' ? s.redis.child : s.memory.child;
  const proxy0 = cpuSeconds(child.pid);
  const upstream0 = cpuSeconds(s.upstream.pid);
  const redis0 = redisPidN === undefined ? Number.NaN : cpuSeconds(redisPidN);
  const loadgen0 = process.cpuUsage();
  const t0 = performance.now();
  const load = await loadFor(s, c, settings, settings.durationS, keyOf);
  const wallS = (performance.now() - t0) / 1000;
  const proxyS = cpuSeconds(child.pid) - proxy0;
  const upstreamS = cpuSeconds(s.upstream.pid) - upstream0;
  const redisS = redisPidN === undefined ? Number.NaN : cpuSeconds(redisPidN) - redis0;
  const lg = process.cpuUsage(loadgen0);
  const pct = (cpuS: number): number => (100 * cpuS) / wallS;
  const perReq = (cpuS: number): number => (load.requests > 0 ? (cpuS * 1e6) / load.requests : Number.NaN);
  return {
    ...load,
    case: c,
    round,
    cpuUsPerReq: perReq(proxyS),
    proxyCpuPct: pct(proxyS),
    upstreamCpuPct: pct(upstreamS),
    redisCpuUsPerReq: perReq(redisS),
    loadgenCpuPct: pct((lg.user + lg.system) / 1e6),
  };
}

const num = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

const COLUMNS: readonly (readonly [string, number])[] = [
  ['round', 5], ['case', 12], ['req/s', 7], ['p50 ms', 7], ['p99 ms', 7], ['CPU µs/req', 10], ['proxy CPU', 9],
  ['upstream CPU', 12], ['redis µs/req', 12], ['loadgen CPU', 11], ['requests', 8], ['non-2xx', 7], ['errors', 6],
];

const fixed = (cells: readonly string[]): string =>
  cells.map((c, i) => (i <= 1 ? c.padEnd(COLUMNS[i]?.[1] ?? 0) : c.padStart(COLUMNS[i]?.[1] ?? 0))).join('  ');

const header = (): string => `${fixed(COLUMNS.map(([h]) => h))}\n${COLUMNS.map(([, w]) => '-'.repeat(w)).join('  ')}`;

function roundLine(r: KeyedRound): string {
  return fixed([
    String(r.round), r.case, num(r.reqPerSec), num(r.p50Ms, 1), num(r.p99Ms, 1), num(r.cpuUsPerReq, 1),
    `${num(r.proxyCpuPct)} %`, `${num(r.upstreamCpuPct)} %`, r.case === 'keyed-redis' ? num(r.redisCpuUsPerReq, 1) : '-',
    `${num(r.loadgenCpuPct)} %`, String(r.requests), String(r.non2xx), String(r.errors),
  ]);
}

function summarizeCase(rounds: readonly KeyedRound[], c: Case): CaseSummary {
  const mine = rounds.filter((r) => r.case === c);
  return {
    reqPerSec: median(mine.map((r) => r.reqPerSec)),
    p50Ms: median(mine.map((r) => r.p50Ms)),
    p99Ms: median(mine.map((r) => r.p99Ms)),
    cpuUsPerReq: median(mine.map((r) => r.cpuUsPerReq)),
    redisCpuUsPerReq: median(mine.map((r) => r.redisCpuUsPerReq)),
  };
}

interface KeyedSummary {
  readonly cases: Readonly<Record<Case, CaseSummary>>;
  readonly ratios: Readonly<Record<'keyed-memory' | 'keyed-redis', { readonly reqPerSec: number; readonly cpuUsPerReq: number; readonly target: number; readonly meetsTarget: boolean }>>;
}

function summarize(rounds: readonly KeyedRound[]): KeyedSummary {
  const cases = { unkeyed: summarizeCase(rounds, 'unkeyed'), 'keyed-memory': summarizeCase(rounds, 'keyed-memory'), 'keyed-redis': summarizeCase(rounds, 'keyed-redis') };
  // The median of the rounds' own ratios (each round runs the three cases back to back), as bench/run.ts
  // does: the machine's speed drifts between rounds, and a ratio within a round cancels most of it.
  const perRound = (c: 'keyed-memory' | 'keyed-redis', field: 'reqPerSec' | 'cpuUsPerReq'): number => median(
    rounds.filter((r) => r.case === c).flatMap((r) => {
      const base = rounds.find((u) => u.case === 'unkeyed' && u.round === r.round);
      return base ? [r[field] / base[field]] : [];
    }),
  );
  const ratio = (c: 'keyed-memory' | 'keyed-redis') => {
    const reqPerSec = perRound(c, 'reqPerSec');
    // CPU: keyed ÷ unkeyed, i.e. "the keyed POST costs N× the proxy CPU of an unkeyed one" (lower is better).
    return { reqPerSec, cpuUsPerReq: perRound(c, 'cpuUsPerReq'), target: TARGETS[c], meetsTarget: reqPerSec >= TARGETS[c] };
  };
  return { cases, ratios: { 'keyed-memory': ratio('keyed-memory'), 'keyed-redis': ratio('keyed-redis') } };
}

function formatSummary(s: KeyedSummary): string {
  const head = ['median over rounds', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', 'redis µs/req'];
  const rows = CASES.map((c) => [c, num(s.cases[c].reqPerSec), num(s.cases[c].p50Ms, 1), num(s.cases[c].p99Ms, 1), num(s.cases[c].cpuUsPerReq, 1), c === 'keyed-redis' ? num(s.cases[c].redisCpuUsPerReq, 1) : '-']);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  const verdict = (r: KeyedSummary['ratios']['keyed-memory']): string => `${r.meetsTarget ? 'meets' : 'BELOW'} target ${r.target}`;
  const m = s.ratios['keyed-memory'];
  const r = s.ratios['keyed-redis'];
  return [
    line(head),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map(line),
    '',
    `ratio req/s   keyed-memory / unkeyed = ${num(m.reqPerSec, 3)}  (${verdict(m)}; median of the rounds' ratios)`,
    `ratio req/s   keyed-redis  / unkeyed = ${num(r.reqPerSec, 3)}  (${verdict(r)})`,
    `proxy CPU/req keyed-memory / unkeyed = ${num(m.cpuUsPerReq, 2)}x, keyed-redis / unkeyed = ${num(r.cpuUsPerReq, 2)}x (lower is better)`,
  ].join('\n');
}

async function bench(settings: Settings, logDir: string, redis: Redis, keyPrefix: string): Promise<void> {
  const startedAt = Date.now();
  const loadAverageAtStart = os.loadavg();
  log(`custody-proxy keyed-POST bench: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), node ${process.version}, load average ${loadAverageAtStart.map((n) => n.toFixed(2)).join(' ')}`);
  log(`${settings.rounds} rounds x ${settings.durationS} s per case, ${settings.connections} keep-alive connections, POST ${PATH} (${Buffer.byteLength(BODY)}-byte JSON body); redis ${REDIS_URL}, key prefix ${keyPrefix}, ttl ${TTL}`);
  await redis.ping();
  const [dist, childDir] = await Promise.all([ensureDist(root, logDir, settings.forceBuild), compileChildren(root, logDir, settings.forceBuild)]);
  log(`build: ${dist}`);
  const s = await startAll(logDir, childDir, settings, keyPrefix);
  log(`upstream pid ${s.upstream.pid}, custody-memory ${s.memory.url} (pid ${s.memory.child.pid}), custody-redis ${s.redis.url} (pid ${s.redis.child.pid})`);
  await preflight(s, redis, keyPrefix);
  log('preflight: unkeyed POST 2xx; keyed POST 2xx and its repeat replayed (idempotent-replayed: true) on memory and on redis');
  const pid = await redisPid(redis);
  if (pid === undefined) log('redis-server PID not readable here: its CPU is not shown');
  // Unique per request and per run: a random run id and a counter.
  const runId = randomBytes(6).toString('hex');
  let seq = 0;
  const keyOf = (): string => `${runId}-${(seq++).toString(36).padStart(8, '0')}`;
  if (settings.warmupS > 0) {
    for (const c of CASES) {
      const w = await loadFor(s, c, settings, settings.warmupS, keyOf);
      log(`warm-up ${c}: ${w.reqPerSec.toFixed(0)} req/s${w.non2xx + w.errors > 0 ? ` (${w.non2xx} non-2xx, ${w.errors} errors)` : ''}`);
    }
  }
  log('');
  log(header());
  const rounds = await alternateRounds(settings.rounds, CASES, (c, round) => measure(s, c, round, settings, keyOf, pid), (r) => log(roundLine(r)));
  const summary = summarize(rounds);
  const invalid = invalidRounds(rounds);
  log('');
  log(formatSummary(summary));
  if (invalid.length > 0) log(invalidWarning(invalid.length));
  const loadAverageAtEnd = os.loadavg();
  log(`load average at start ${loadAverageAtStart.map((n) => n.toFixed(2)).join(' ')}, at end ${loadAverageAtEnd.map((n) => n.toFixed(2)).join(' ')}`);
  const resultsDir = path.join(root, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const elapsedS = (Date.now() - startedAt) / 1000;
  const out = {
    generatedAt: new Date().toISOString(),
    machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, loadAverageAtStart, loadAverageAtEnd },
    settings: { ...settings, path: PATH, method: 'POST', bodyBytes: Buffer.byteLength(BODY), pipelining: 1, redisUrl: REDIS_URL, keyPrefix, ttl: TTL, targets: TARGETS },
    valid: invalid.length === 0,
    rounds,
    summary,
    elapsedS,
  };
  writeFileSync(path.join(resultsDir, 'keyed-latest.json'), `${JSON.stringify(out, null, 2)}\n`);
  log(`\nwrote bench/results/keyed-latest.json (${elapsedS.toFixed(0)} s)`);
  if (invalid.length > 0) process.exitCode = 1;
}

async function main(): Promise<void> {
  const settings = readSettings();
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'custody-proxy-keyed-bench-'));
  const removeLogs = (): void => rmSync(logDir, { recursive: true, force: true });
  const keyPrefix = `bench:${process.pid}:${Date.now()}:`;
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3000, enableOfflineQueue: true });
  redis.on('error', () => undefined); // failures surface as rejected commands
  const budgetMs = 240_000 + 3 * (settings.rounds * (settings.durationS + 2) + settings.warmupS) * 1000;
  // On SIGINT/SIGTERM the children stop and the logs go; this run's Redis keys then expire after TTL.
  await runBounded(
    'keyed bench',
    budgetMs,
    removeLogs,
    async () => {
      await redis.connect();
      await bench(settings, logDir, redis, keyPrefix);
    },
    async () => {
      try {
        if (redis.status === 'ready') log(`redis: deleted ${await deleteKeys(redis, keyPrefix)} key(s) under ${keyPrefix}`);
      } catch (err) {
        process.stderr.write(`redis cleanup failed (keys expire after ${TTL}): ${err instanceof Error ? err.message : String(err)}\n`);
      }
      redis.disconnect();
    },
  );
}

await main();

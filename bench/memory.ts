// `npm run bench:memory` (the last step of `npm run bench`): what the memory store's records cost in
// RSS against what maxBytes charges for them (issue 15 point 6). Not a timing: it can run on a busy
// machine. Each case runs in a fresh `node --expose-gc` (bench/children/memory-fill.ts) and fills a
// MemoryStore through its real API; see "Memory" in bench/README.md for how to read the lines.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const log = (text: string): void => void process.stdout.write(`${text}\n`);
const MiB = 1024 * 1024;
/** what a full store may add to RSS beyond maxBytes besides the young generation: the arena's spare slabs and its current one */
const SLACK = 4 * MiB;

interface Case {
  readonly name: string;
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly records: number;
}

interface Measured {
  readonly node: string;
  readonly offered: number;
  readonly kept: number;
  readonly chargedBytes: number;
  readonly maxBytes: number;
  readonly rssGrowth: number;
  readonly heapUsedGrowth: number;
  readonly arrayBuffersGrowth: number;
  readonly newSpaceGrowth: number;
  readonly newSpace: number;
  /** resident bytes of V8's heap pages (young generation included) */
  readonly v8PagesRssGrowth: number;
  readonly heapTotalGrowth: number;
}

const CASES: readonly Case[] = [
  { name: '100,000 records of 1 KiB (maxBytes 256 MiB)', maxEntries: 100_000, maxBytes: 256 * MiB, records: 100_000 },
  { name: 'maxBytes 64 MiB, 200,000 records of 1 KiB offered', maxEntries: 100_000, maxBytes: 64 * MiB, records: 200_000 },
];

function measure(c: Case): Measured {
  const child = path.join(root, 'bench', 'children', 'memory-fill.ts');
  const env = { ...process.env };
  delete env['NODE_OPTIONS'];
  const args = ['--expose-gc', '--import', 'tsx/esm', child, JSON.stringify(c)];
  const run = spawnSync(process.execPath, args, { cwd: root, env, encoding: 'utf8', timeout: 180_000 });
  const line = run.stdout.split('\n').find((l) => l.startsWith('{'));
  if (run.status !== 0 || !line) throw new Error(`memory-fill failed (${run.status ?? run.signal}):\n${run.stderr.slice(-2000)}`);
  return JSON.parse(line) as Measured;
}

const mb = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;
const per = (bytes: number, m: Measured): string => `${Math.round(bytes / m.kept)} B/record`;

function report(c: Case, m: Measured): void {
  const records = m.rssGrowth - m.newSpaceGrowth;
  log(`\n${c.name}, Node ${m.node}: ${m.kept} kept of ${m.offered}`);
  log(`  RSS growth          ${per(m.rssGrowth, m)} (${mb(m.rssGrowth)}), of which young generation ${mb(m.newSpaceGrowth)} (now ${mb(m.newSpace)})`);
  log(`  less young gen.     ${per(records, m)} (${mb(records)}): slabs ${per(m.arrayBuffersGrowth, m)}, JS heap ${per(m.heapUsedGrowth, m)}`);
  // More resident than heapTotal: pages V8 keeps for reuse after freeing them (not counted as heap).
  log(`  V8 heap pages       resident growth ${mb(m.v8PagesRssGrowth)}, heapTotal growth ${mb(m.heapTotalGrowth)}`);
  log(`  charged (maxBytes)  ${per(m.chargedBytes, m)} (${mb(m.chargedBytes)} of ${mb(m.maxBytes)})`);
  const full = m.kept < m.offered;
  const limit = full ? m.maxBytes + SLACK : m.chargedBytes + SLACK;
  const verdict = records <= limit ? 'yes' : 'NO';
  log(`  growth less young generation <= ${full ? 'maxBytes' : 'charged'} + ${mb(SLACK)}: ${verdict}`);
}

const results: Array<Case & Measured> = [];
for (const c of CASES) {
  const m = measure(c);
  report(c, m);
  results.push({ ...c, ...m });
}
const resultsDir = path.join(root, 'bench', 'results');
mkdirSync(resultsDir, { recursive: true });
writeFileSync(path.join(resultsDir, 'memory-latest.json'), `${JSON.stringify(results, null, 2)}\n`);
log('\nwrote bench/results/memory-latest.json');

// Turns measured rounds into the printed tables and the summary: medians per target, and the
// custody-proxy / pass-through ratios from the same run (req/s: custody ÷ pass-through; CPU per
// request: pass-through ÷ custody, so that for both "1.0 = as cheap as the bare proxy, ≥ 0.9 = target").
// The ratio is the median of each round's own ratio (both targets of a round measured in interleaved
// slices), not the ratio of the two medians: this host's speed swings by tens of percent within
// seconds, and the median of one target can come from a slow phase the other's never saw (session 6:
// per-round ratios 0.86–0.92 gave 0.52 as a ratio of medians).
import type { LoadResult } from './load.js';

export type Target = 'custody-proxy' | 'passthrough';
export const TARGETS: readonly Target[] = ['custody-proxy', 'passthrough'];
export const RATIO_TARGET = 0.9;

export interface Round extends LoadResult {
  readonly target: Target;
  readonly round: number;
  /** CPU time of the proxy under test per completed request */
  readonly cpuUsPerReq: number;
  /** CPU use during the round, in % of one core */
  readonly proxyCpuPct: number;
  readonly upstreamCpuPct: number;
  readonly loadgenCpuPct: number;
}

export interface TargetSummary {
  readonly reqPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuUsPerReq: number;
}

export interface Summary {
  readonly custody: TargetSummary;
  readonly passthrough: TargetSummary;
  /** medians of the per-round ratios */
  readonly ratios: {
    /** custody req/s ÷ pass-through req/s */
    readonly reqPerSec: number;
    /** pass-through CPU µs/req ÷ custody CPU µs/req (the inverse, so higher is better) */
    readonly cpuPerReq: number;
    /** custody ÷ pass-through latency (lower is better, 1.0 = equal) */
    readonly p50: number;
    readonly p99: number;
  };
  /** the same ratios per round, in round order */
  readonly roundRatios: readonly { readonly round: number; readonly reqPerSec: number; readonly cpuPerReq: number }[];
  /** req/s and CPU ratios of the two targets' medians (the headline before session 6), for comparison */
  readonly ratiosOfMedians: { readonly reqPerSec: number; readonly cpuPerReq: number };
  readonly target: number;
  readonly meetsTarget: { readonly reqPerSec: boolean; readonly cpuPerReq: boolean };
}

/**
 * Rounds 1..rounds, and in each every case in order with a 300 ms pause before it, so slow drift on
 * the machine hits all cases alike. Logs each round's line as it comes.
 */
export async function alternateRounds<C, R>(
  rounds: number,
  cases: readonly C[],
  measure: (c: C, round: number) => Promise<R>,
  logLine: (r: R) => void,
): Promise<R[]> {
  const results: R[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const c of cases) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const r = await measure(c, round);
      results.push(r);
      logLine(r);
    }
  }
  return results;
}

/** The cases in slice `i`'s order, A B then B A and so on, so that drift within a round favours neither. */
export const sliceOrder = <C>(i: number, cases: readonly C[]): readonly C[] => (i % 2 === 0 ? cases : [...cases].reverse());

/** Rounds with a non-2xx answer or an error: their figures are not comparable. */
export function invalidRounds<R extends { readonly non2xx: number; readonly errors: number }>(rounds: readonly R[]): R[] {
  return rounds.filter((r) => r.non2xx > 0 || r.errors > 0);
}

export function invalidWarning(count: number): string {
  return `\nWARNING: ${count} round(s) had non-2xx answers or errors; the figures are not comparable.`;
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? Number.NaN) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

function summarizeTarget(rounds: readonly Round[], target: Target): TargetSummary {
  const mine = rounds.filter((r) => r.target === target);
  return {
    reqPerSec: median(mine.map((r) => r.reqPerSec)),
    p50Ms: median(mine.map((r) => r.p50Ms)),
    p99Ms: median(mine.map((r) => r.p99Ms)),
    cpuUsPerReq: median(mine.map((r) => r.cpuUsPerReq)),
  };
}

/** Each round's custody ÷ pass-through ratios (rounds where either target is missing are skipped). */
function pairRounds(rounds: readonly Round[]): { round: number; reqPerSec: number; cpuPerReq: number; p50: number; p99: number }[] {
  const out = [];
  for (const round of [...new Set(rounds.map((r) => r.round))].sort((a, b) => a - b)) {
    const c = rounds.find((r) => r.round === round && r.target === 'custody-proxy');
    const p = rounds.find((r) => r.round === round && r.target === 'passthrough');
    if (!c || !p) continue;
    out.push({ round, reqPerSec: c.reqPerSec / p.reqPerSec, cpuPerReq: p.cpuUsPerReq / c.cpuUsPerReq, p50: c.p50Ms / p.p50Ms, p99: c.p99Ms / p.p99Ms });
  }
  return out;
}

export function summarize(rounds: readonly Round[]): Summary {
  const custody = summarizeTarget(rounds, 'custody-proxy');
  const passthrough = summarizeTarget(rounds, 'passthrough');
  const paired = pairRounds(rounds);
  const ratios = {
    reqPerSec: median(paired.map((r) => r.reqPerSec)),
    cpuPerReq: median(paired.map((r) => r.cpuPerReq)),
    p50: median(paired.map((r) => r.p50)),
    p99: median(paired.map((r) => r.p99)),
  };
  return {
    custody,
    passthrough,
    ratios,
    roundRatios: paired.map(({ round, reqPerSec, cpuPerReq }) => ({ round, reqPerSec, cpuPerReq })),
    ratiosOfMedians: { reqPerSec: custody.reqPerSec / passthrough.reqPerSec, cpuPerReq: passthrough.cpuUsPerReq / custody.cpuUsPerReq },
    target: RATIO_TARGET,
    meetsTarget: { reqPerSec: ratios.reqPerSec >= RATIO_TARGET, cpuPerReq: ratios.cpuPerReq >= RATIO_TARGET },
  };
}

const num = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

// Fixed widths, so a round can be printed the moment it ends and still line up with the header.
const COLUMNS: readonly (readonly [string, number])[] = [
  ['round', 5], ['target', 13], ['req/s', 7], ['p50 ms', 7], ['p99 ms', 7], ['CPU µs/req', 10],
  ['proxy CPU', 9], ['upstream CPU', 12], ['loadgen CPU', 11], ['requests', 8], ['non-2xx', 7], ['errors', 6],
];

const fixed = (cells: readonly string[]): string =>
  cells.map((c, i) => (i <= 1 ? c.padEnd(COLUMNS[i]?.[1] ?? 0) : c.padStart(COLUMNS[i]?.[1] ?? 0))).join('  ');

export function roundHeader(): string {
  return `${fixed(COLUMNS.map(([h]) => h))}\n${COLUMNS.map(([, w]) => '-'.repeat(w)).join('  ')}`;
}

export function roundLine(r: Round): string {
  return fixed([
    String(r.round),
    r.target,
    num(r.reqPerSec),
    num(r.p50Ms, 1),
    num(r.p99Ms, 1),
    num(r.cpuUsPerReq, 1),
    `${num(r.proxyCpuPct)} %`,
    `${num(r.upstreamCpuPct)} %`,
    `${num(r.loadgenCpuPct)} %`,
    String(r.requests),
    String(r.non2xx),
    String(r.errors),
  ]);
}

export function formatSummary(s: Summary): string {
  const row = (name: string, t: TargetSummary): string[] => [name, num(t.reqPerSec), num(t.p50Ms, 1), num(t.p99Ms, 1), num(t.cpuUsPerReq, 1)];
  const verdict = (ok: boolean): string => (ok ? 'meets' : 'BELOW');
  return [
    table(['median over rounds', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req'], [row('custody-proxy', s.custody), row('passthrough', s.passthrough)]),
    '',
    `per round        req/s ${s.roundRatios.map((r) => num(r.reqPerSec, 3)).join(' ')}; CPU/req ${s.roundRatios.map((r) => num(r.cpuPerReq, 3)).join(' ')}`,
    `ratio req/s      custody / passthrough = ${num(s.ratios.reqPerSec, 3)}  (${verdict(s.meetsTarget.reqPerSec)} target ${s.target}; median of the rounds' ratios)`,
    `ratio CPU/req    passthrough / custody = ${num(s.ratios.cpuPerReq, 3)}  (${verdict(s.meetsTarget.cpuPerReq)} target ${s.target}; custody uses ${num(1 / s.ratios.cpuPerReq, 2)}x the CPU per request)`,
    `latency          custody / passthrough = p50 ${num(s.ratios.p50, 2)}x, p99 ${num(s.ratios.p99, 2)}x`,
    `(ratios of the medians above: req/s ${num(s.ratiosOfMedians.reqPerSec, 3)}, CPU/req ${num(s.ratiosOfMedians.cpuPerReq, 3)})`,
  ].join('\n');
}

// What the run found, from three records kept independently: the clients' attempts, the upstream's
// ledger of executions per (tenant, key) (and of exchanges it cut), and the fault log. Definitions
// (also in scripts/README.md):
// - double execution: the upstream executed a key more than once. "After a loss" when a Redis data
//   loss (from its SIGTERM until the empty Redis answered) overlaps the time from the operation's first
//   attempt to the key's last execution, else "data intact".
// - burned key: the upstream never executed the key and never cut an exchange of it, yet an attempt
//   got 502 UPSTREAM_OUTCOME_UNKNOWN, and no replica was SIGKILLed between the first attempt and that
//   answer (a killed owner's claim legitimately ends as outcome unknown, SPEC §9).
// - lost answer: the upstream executed the key and wrote its 201, yet a later attempt got 502
//   UPSTREAM_OUTCOME_UNKNOWN, and the replica that forwarded the execution was not SIGKILLed between
//   the execution and that answer (only a dead owner may leave an outcome-unknown record).
import { FAULT_KINDS, RECOVERY_LIMIT_MS, type FaultKind, type FaultLog } from './faults.js';
import type { Attempt, Operation, Result } from './clients.js';
import type { ChaosOptions } from './options.js';
import type { Execution, Upstream } from './upstream.js';

export interface Invariant {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface Summary {
  readonly options: Omit<ChaosOptions, 'jsonPath'>;
  readonly wallSeconds: number;
  readonly operations: number;
  readonly results: Record<Result, number>;
  readonly attempts: number;
  readonly replays: number;
  readonly executions: number;
  readonly doubleExecutions: { readonly dataIntact: number; readonly afterLoss: number; readonly keys: string[] };
  readonly burnedKeys: { readonly count: number; readonly keys: string[] };
  readonly lostAnswers: { readonly count: number; readonly keys: string[] };
  /** outcome-unknown answers the clients got that are explained: an upstream cut, or a SIGKILLed owner */
  readonly outcomeUnknownExplained: { readonly upstreamCut: number; readonly killedOwner: number };
  readonly replayMismatches: number;
  readonly storeLosses: { readonly redisRestarts: number; readonly detected: number };
  readonly recovery: { readonly maxMs: number | null; readonly byKind: Partial<Record<FaultKind, number | null>>; readonly limitMs: number };
  readonly faults: FaultLog['faults'];
  readonly invariants: Invariant[];
  /** the first few keys behind a failed invariant: attempts and executions, ms since the run's start */
  readonly evidence: Evidence[];
}

export interface Evidence {
  readonly key: string;
  readonly finding: string;
  readonly attempts: string[];
  readonly executions: string[];
}

function evidence(op: Operation, execs: readonly Execution[], finding: string, t0: number): Evidence {
  return {
    key: `${op.tenant}/${op.key}`,
    finding,
    attempts: op.attempts.map((a) => `${a.start - t0}-${a.end - t0} r${a.slot} ${a.status} ${a.code}${a.replayed ? ' replayed' : ''}${a.confirmation ? ' (confirmation)' : ''}`),
    executions: execs.map((e) => `${e.at - t0} r${e.slot} #${e.n}${e.answered ? ' answered' : ''}${e.reset ? ' reset' : ''}`),
  };
}

const unknown = (a: Attempt): boolean => a.status === 502 && a.code === 'UPSTREAM_OUTCOME_UNKNOWN';
const killedIn = (log: FaultLog, from: number, to: number, slot?: number): boolean =>
  log.kills.some((k) => k.at >= from && k.at <= to && (slot === undefined || k.slot === slot));

/** Worst recovery among faults (null when a replica never recovered). */
function worst(faults: FaultLog['faults']): number | null {
  let max = 0;
  for (const f of faults) for (const ms of f.recoveryMs) {
    if (ms === null) return null;
    max = Math.max(max, ms);
  }
  return max;
}

interface PerKey {
  double?: 'dataIntact' | 'afterLoss';
  burned: boolean;
  lost: boolean;
  cut: boolean;
  killed: boolean;
}

function classifyOperation(op: Operation, execs: readonly Execution[], cuts: number, log: FaultLog): PerKey {
  const out: PerKey = { burned: false, lost: false, cut: false, killed: false };
  const last = execs.at(-1);
  if (execs.length > 1 && last) out.double = log.losses.some((l) => l.from <= last.at && l.to >= op.start) ? 'afterLoss' : 'dataIntact';
  const unknowns = op.attempts.filter(unknown);
  if (unknowns.length === 0) return out;
  const answered = execs.find((e) => e.answered);
  if (execs.length === 0) {
    if (cuts > 0) out.cut = true;
    else if (unknowns.every((a) => killedIn(log, op.start, a.end))) out.killed = true;
    else out.burned = true;
  } else if (answered) {
    const late = unknowns.filter((a) => a.end > answered.at);
    if (late.some((a) => !killedIn(log, answered.at, a.end, answered.slot))) out.lost = true;
    else out.killed = true;
  } else if (execs.some((e) => e.reset) || cuts > 0) out.cut = true;
  else out.killed = true; // executed, never answered, no cut: the forwarding replica died mid-exchange
  return out;
}

/** The worst recovery time over all faults and per fault kind (null: a replica never recovered). */
function recoveryOf(log: FaultLog): Summary['recovery'] {
  const byKind: Partial<Record<FaultKind, number | null>> = {};
  for (const kind of FAULT_KINDS) {
    const of = log.faults.filter((f) => f.kind === kind);
    if (of.length > 0) byKind[kind] = worst(of);
  }
  return { maxMs: worst(log.faults), byKind, limitMs: RECOVERY_LIMIT_MS };
}

interface Counts { readonly dataIntact: number; readonly afterLoss: number; readonly burned: number; readonly lost: number }

/** What the run promises (issue 15's acceptance), each with what was seen. */
function invariantsOf(options: ChaosOptions, c: Counts, detected: number, restarts: number, recovery: Summary['recovery']): Invariant[] {
  const { maxMs, byKind } = recovery;
  return [
    { name: '0 double executions with the store\'s data intact', ok: c.dataIntact === 0, detail: `${c.dataIntact}` },
    { name: `0 burned keys (stalls up to ${options.maxStallS} s)`, ok: c.burned === 0, detail: `${c.burned}` },
    { name: `0 lost answers (stalls up to ${options.maxStallS} s)`, ok: c.lost === 0, detail: `${c.lost}` },
    { name: 'every Redis restart detected by every replica', ok: detected === restarts, detail: `${detected}/${restarts}` },
    ...(options.onStoreLoss === 'refuse' ? [{ name: '0 double executions under onStoreLoss: refuse', ok: c.afterLoss === 0, detail: `${c.afterLoss}` }] : []),
    { name: `every replica serving within ${RECOVERY_LIMIT_MS} ms of each fault's end`, ok: maxMs !== null && maxMs <= RECOVERY_LIMIT_MS, detail: maxMs === null ? 'a replica never recovered' : `max ${maxMs} ms` },
    { name: 'every fault kind happened', ok: FAULT_KINDS.every((k) => k in byKind), detail: Object.keys(byKind).join(', ') },
  ];
}

export function classify(options: ChaosOptions, ops: readonly Operation[], upstream: Upstream, log: FaultLog, t0: number): Summary {
  const found: Evidence[] = [];
  const results: Record<Result, number> = { ok: 0, outcome_unknown: 0, rejected: 0, gave_up: 0, reconciled: 0, unfinished: 0 };
  const doubles: string[] = [];
  const burned: string[] = [];
  const lost: string[] = [];
  let [dataIntact, afterLoss, cut, killed, attempts, replays, mismatches, executions] = [0, 0, 0, 0, 0, 0, 0, 0];
  for (const op of ops) {
    results[op.result]++;
    attempts += op.attempts.length;
    replays += op.attempts.filter((a) => a.replayed).length;
    const bodies = new Set(op.attempts.filter((a) => a.status >= 200 && a.status < 300).map((a) => a.body));
    if (bodies.size > 1) mismatches++;
    const execs = upstream.executionsOf(op.tenant, op.key);
    executions += execs.length;
    const k = classifyOperation(op, execs, upstream.cutsOf(op.tenant, op.key).length, log);
    const name = `${op.tenant}/${op.key}`;
    if (k.double) doubles.push(`${name} ×${execs.length} (${k.double})`);
    if (k.double === 'dataIntact') dataIntact++;
    if (k.double === 'afterLoss') afterLoss++;
    if (k.burned) burned.push(name);
    if (k.lost) lost.push(name);
    if (k.cut) cut++;
    if (k.killed) killed++;
    const finding = k.burned ? 'burned key' : k.lost ? 'lost answer' : k.double === 'dataIntact' || (k.double && options.onStoreLoss === 'refuse') ? `double execution (${k.double})` : undefined;
    if (finding && found.length < 10) found.push(evidence(op, execs, finding, t0));
  }
  const restarts = log.faults.filter((f) => f.kind === 'redis-restart');
  const detected = restarts.filter((f) => f.detected).length;
  const recovery = recoveryOf(log);
  const { jsonPath: _unused, ...shown } = options;
  const invariants = invariantsOf(options, { dataIntact, afterLoss, burned: burned.length, lost: lost.length }, detected, restarts.length, recovery);
  return {
    options: shown, wallSeconds: Math.round((Date.now() - t0) / 100) / 10, operations: ops.length, results, attempts, replays, executions,
    doubleExecutions: { dataIntact, afterLoss, keys: doubles.slice(0, 20) },
    burnedKeys: { count: burned.length, keys: burned.slice(0, 20) },
    lostAnswers: { count: lost.length, keys: lost.slice(0, 20) },
    outcomeUnknownExplained: { upstreamCut: cut, killedOwner: killed },
    replayMismatches: mismatches,
    storeLosses: { redisRestarts: restarts.length, detected },
    recovery,
    faults: log.faults.map((f) => ({ ...f, start: f.start - t0, end: f.end - t0 })), invariants, evidence: found,
  };
}

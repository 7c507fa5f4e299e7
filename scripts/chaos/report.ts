// The table `npm run chaos` prints at the end (the JSON summary carries the same figures).
import type { Summary } from './classify.js';

const ms = (v: number | null | undefined): string => (v === null || v === undefined ? 'never' : `${v} ms`);

export function report(s: Summary): string[] {
  const r = s.results;
  const rows: Array<[string, string]> = [
    ['operations', `${s.operations} (ok ${r.ok}, outcome unknown ${r.outcome_unknown}, rejected ${r.rejected}, gave up ${r.gave_up}, reconciled ${r.reconciled}, unfinished ${r.unfinished})`],
    ['attempts', `${s.attempts} (replays ${s.replays})`],
    ['executions (upstream)', `${s.executions}`],
    ['double executions', `${s.doubleExecutions.dataIntact} with data intact / ${s.doubleExecutions.afterLoss} after a loss`],
    ['burned keys', `${s.burnedKeys.count}`],
    ['lost answers', `${s.lostAnswers.count}`],
    ['outcome unknown, explained', `${s.outcomeUnknownExplained.upstreamCut} upstream cut / ${s.outcomeUnknownExplained.killedOwner} SIGKILLed owner`],
    ['replays ≠ first answer', `${s.replayMismatches}`],
    ['store losses detected', `${s.storeLosses.detected} / ${s.storeLosses.redisRestarts} Redis restarts`],
    ['recovery, max', ms(s.recovery.maxMs)],
    ...Object.entries(s.recovery.byKind).map(([kind, v]): [string, string] => [`  ${kind}`, `max ${ms(v)} (${s.faults.filter((f) => f.kind === kind).length}×)`]),
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
  lines.push('', 'invariants:');
  for (const i of s.invariants) lines.push(`  ${i.ok ? 'ok  ' : 'FAIL'}  ${i.name}: ${i.detail}`);
  for (const [what, keys] of [['double executions', s.doubleExecutions.keys], ['burned keys', s.burnedKeys.keys], ['lost answers', s.lostAnswers.keys]] as const) {
    if (keys.length > 0) lines.push(`  ${what}: ${keys.join(', ')}`);
  }
  return lines;
}

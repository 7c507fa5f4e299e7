// The short `npm run chaos` (issue 15 point 7) as CI runs it: a fixed seed, every fault kind once
// (SIGKILL and SIGTERM of a replica, a 10 s Redis stall, a Redis restart, upstream resets), run as a
// child process; the invariants are asserted one by one from its JSON summary. Needs redis-server:
// a failure under CI=true, skipped elsewhere (the run starts its own on a free port).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { missing, redisServerInstalled } from '../helpers/redis-server.js';
import { stopChild, track } from '../helpers/processes.js';
import { within } from '../helpers/waits.js';

interface Summary {
  readonly wallSeconds: number;
  readonly operations: number;
  readonly executions: number;
  readonly invariants: ReadonlyArray<{ readonly name: string; readonly ok: boolean; readonly detail: string }>;
  readonly evidence: ReadonlyArray<{ readonly key: string; readonly finding: string; readonly attempts: string[]; readonly executions: string[] }>;
}

// The whole run: about 40 s of faults plus startup and drain; CI allows it 90 s.
const RUN_LIMIT_MS = 90_000;

if (!redisServerInstalled()) {
  missing(t, 'redis-server is not installed (the chaos run starts its own)');
} else {
  t.setTimeout(RUN_LIMIT_MS + 20_000);
  const dir = mkdtempSync(path.join(tmpdir(), 'custody-proxy-chaos-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const json = path.join(dir, 'summary.json');
  const args = ['--import', 'tsx/esm', 'scripts/chaos.ts', '--duration', '30', '--seed', '1515', '--clients', '6', '--json', json];
  const began = Date.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error('the chaos run did not start');
  const exited = track(child, child.pid);
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (out += c));
  const exit = await within(exited, RUN_LIMIT_MS, 'the short chaos run').catch(async (err: unknown) => {
    await stopChild(child, 'SIGINT', 10_000).catch(() => undefined);
    throw err;
  });
  t.comment(out.trimEnd());
  const seconds = (Date.now() - began) / 1000;
  t.ok(seconds <= RUN_LIMIT_MS / 1000, `the short run took ${seconds.toFixed(1)} s (≤ 90 s)`);
  t.not(exit.code, 2, 'the run itself worked (exit 2 is a harness error)');
  const summary = JSON.parse(readFileSync(json, 'utf8')) as Summary;
  t.ok(summary.operations > 50 && summary.executions > 50, `traffic ran (${summary.operations} operations, ${summary.executions} executions)`);
  for (const i of summary.invariants) t.ok(i.ok, `${i.name} (${i.detail})`);
  for (const e of summary.evidence) t.comment(`${e.finding} ${e.key}: attempts ${e.attempts.join('; ')} | executions ${e.executions.join('; ')}`);
  t.equal(exit.code, summary.invariants.every((i) => i.ok) ? 0 : 1, 'the exit code says whether every invariant held');
}

// `npm run bench:ab -- <git-ref>`: this working tree's custody-proxy against the one built from <git-ref>
// (default HEAD), with the bare pass-through as a third target, in one run on one upstream. On a host
// whose speed drifts by tens of percent within minutes, single runs of `npm run bench` cannot show a
// 5 % change; short alternating rounds and the median of per-round paired ratios can.
//   BENCH_ROUNDS (12)  BENCH_DURATION seconds per round (2)  BENCH_WARMUP seconds per target (3)
// The ref is checked out as a detached git worktree in a temporary folder (node_modules symlinked from
// this tree), built with tsconfig.build.json, and removed at the end.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileChildren, ensureDist } from './lib/build.js';
import { runLoad } from './lib/load.js';
import { cpuSeconds, runBounded, runToCompletion, tail, type Child } from './lib/processes.js';
import { alternateRounds, invalidRounds, invalidWarning, median } from './lib/report.js';
import { readSettings } from './lib/settings.js';
import { preflight, startCustody, startTargets } from './lib/targets.js';

const PATH = '/v1/vaults';
const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const log = (text: string): void => void process.stdout.write(`${text}\n`);

type Case = 'ref' | 'tree' | 'passthrough';
const CASES: readonly Case[] = ['ref', 'tree', 'passthrough'];

interface AbRound {
  readonly target: Case;
  readonly round: number;
  readonly reqPerSec: number;
  readonly cpuUsPerReq: number;
  readonly non2xx: number;
  readonly errors: number;
}

async function buildRef(ref: string, dir: string, logDir: string): Promise<string> {
  const commit = execFileSync('git', ['rev-parse', '--short', `${ref}^{commit}`], { cwd: root, encoding: 'utf8' }).trim();
  execFileSync('git', ['worktree', 'add', '--detach', '--quiet', dir, commit], { cwd: root, stdio: 'ignore' });
  symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const code = await runToCompletion('build-ref', [tsc, '-p', 'tsconfig.build.json'], logDir, dir, 180_000);
  if (code !== 0) throw new Error(`building ${ref} failed (${code}):\n${tail(path.join(logDir, 'build-ref.out'))}`);
  return commit;
}

const spread = (values: readonly number[]): string => {
  const s = [...values].sort((a, b) => a - b);
  const q = (f: number): number => s[Math.min(s.length - 1, Math.floor(f * s.length))] ?? Number.NaN;
  return `median ${median(s).toFixed(3)} (quartiles ${q(0.25).toFixed(3)}–${q(0.75).toFixed(3)})`;
};

async function ab(ref: string, logDir: string, refDir: string): Promise<void> {
  const settings = readSettings({ BENCH_ROUNDS: '12', BENCH_DURATION: '2', BENCH_WARMUP: '3', ...process.env });
  const [commit, , childDir] = await Promise.all([buildRef(ref, refDir, logDir), ensureDist(root, logDir, settings.forceBuild), compileChildren(root, logDir, settings.forceBuild)]);
  // The upstream, this tree's custody-proxy and the pass-through as `npm run bench` starts them; the ref's
  // custody-proxy beside them, on the same config.
  const s = await startTargets({ root, logDir, childDir, credentials: settings.credentials });
  const refCustody = await startCustody('custody-ref', s.setup.configFile, logDir, refDir);
  await preflight(s, PATH);
  const children: Record<Case, Child> = { ref: refCustody.child, tree: s.custody, passthrough: s.passthrough };
  const urls: Record<Case, string> = { ref: refCustody.url + PATH, tree: s.custodyUrl + PATH, passthrough: s.passthroughUrl + PATH };
  log(`ref ${ref} (${commit}) vs this tree, with the pass-through; ${settings.rounds} rounds x ${settings.durationS} s, ${settings.connections} connections, GET ${PATH}`);
  const headers = { authorization: s.setup.authorization };
  const load = (c: Case, durationS: number) => runLoad({ url: urls[c], connections: settings.connections, durationS, headers });
  for (const c of CASES) if (settings.warmupS > 0) await load(c, settings.warmupS);
  const rounds = await alternateRounds(
    settings.rounds,
    CASES,
    async (c, round): Promise<AbRound> => {
      const cpu0 = cpuSeconds(children[c].pid);
      const r = await load(c, settings.durationS);
      const cpuS = cpuSeconds(children[c].pid) - cpu0;
      return { target: c, round, reqPerSec: r.reqPerSec, cpuUsPerReq: r.requests > 0 ? (cpuS * 1e6) / r.requests : Number.NaN, non2xx: r.non2xx, errors: r.errors };
    },
    (r) => log(`${String(r.round).padStart(3)}  ${r.target.padEnd(11)}  ${r.reqPerSec.toFixed(0).padStart(6)} req/s  ${r.cpuUsPerReq.toFixed(1).padStart(6)} CPU µs/req`),
  );
  const of = (c: Case, round: number): AbRound | undefined => rounds.find((r) => r.target === c && r.round === round);
  const paired = (a: Case, b: Case, pick: (r: AbRound) => number): number[] => {
    const out: number[] = [];
    for (let i = 1; i <= settings.rounds; i++) {
      const ra = of(a, i);
      const rb = of(b, i);
      if (ra && rb) out.push(pick(ra) / pick(rb));
    }
    return out;
  };
  const cpu = (r: AbRound): number => r.cpuUsPerReq;
  const rps = (r: AbRound): number => r.reqPerSec;
  log('');
  log(`CPU µs/req   tree / ref          ${spread(paired('tree', 'ref', cpu))}   (below 1: the tree is cheaper)`);
  log(`req/s        tree / ref          ${spread(paired('tree', 'ref', rps))}`);
  log(`req/s        ref / passthrough   ${spread(paired('ref', 'passthrough', rps))}`);
  log(`req/s        tree / passthrough  ${spread(paired('tree', 'passthrough', rps))}`);
  log(`CPU/req      passthrough / tree  ${spread(paired('passthrough', 'tree', cpu))}`);
  const invalid = invalidRounds(rounds);
  if (invalid.length > 0) {
    log(invalidWarning(invalid.length));
    process.exitCode = 1;
  }
}

async function main(): Promise<void> {
  const ref = process.argv[2] ?? 'HEAD';
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'custody-proxy-ab-'));
  const refDir = path.join(logDir, 'ref');
  const cleanup = (): void => {
    try {
      execFileSync('git', ['worktree', 'remove', '--force', refDir], { cwd: root, stdio: 'ignore' });
    } catch {
      // never added (a bad ref): nothing to remove
    }
    rmSync(logDir, { recursive: true, force: true });
  };
  await runBounded('bench:ab', 900_000, cleanup, () => ab(ref, logDir, refDir));
}

await main();

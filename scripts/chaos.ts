// `npm run chaos`: a bounded fault-injection run (issue 15 point 7). Real `custody-proxy serve`
// replicas (dist/, rebuilt first if stale) on a private redis-server without persistence, clients retrying keyed
// POSTs with the same key across replicas, and a fault schedule: SIGKILL / SIGTERM of a replica (then
// restarted), SIGSTOP of Redis for up to --max-stall s, a Redis restart (data lost), upstream resets.
// The upstream counts executions per (tenant, key); at the end the run prints operations, attempts,
// executions, double executions, burned keys, lost answers, store losses detected and recovery times,
// and exits 1 when an invariant fails. Definitions: scripts/README.md and scripts/chaos/classify.ts.
//   npm run chaos [-- --duration 60 --seed N --replicas 3 --clients 8 --on-store-loss refuse|continue --json FILE]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { ensureDist } from '../bench/lib/build.js';
import { privateRedis } from '../test/helpers/redis-server.js';
import { ADMIN_TOKEN, Replica } from './chaos/cluster.js';
import { Clients } from './chaos/clients.js';
import { classify } from './chaos/classify.js';
import { runFaults, type World } from './chaos/faults.js';
import { parseOptions, prng, type ChaosOptions } from './chaos/options.js';
import { report } from './chaos/report.js';
import { startUpstream } from './chaos/upstream.js';

const ROOT = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const log = (text: string): void => void process.stdout.write(`${text}\n`);

/** The private Redis, the upstream stand-in and the replicas, each registered in `stoppers` as it starts. */
async function startProcesses(options: ChaosOptions, dir: string, random: () => number, stoppers: Array<() => Promise<void>>) {
  const tokenFile = path.join(dir, 'admin-token');
  writeFileSync(tokenFile, ADMIN_TOKEN);
  const redis = await privateRedis(dir);
  stoppers.push(() => redis.stop('SIGKILL'));
  await redis.start();
  const upstream = await startUpstream(options.replicas, random);
  stoppers.push(() => upstream.close());
  const replicas = await Promise.all(Array.from({ length: options.replicas }, (_, slot) =>
    Replica.create(slot, path.join(dir, `replica-${slot}`), { redisUrl: redis.url, upstreamUrl: upstream.urls[slot] ?? '', onStoreLoss: options.onStoreLoss, tokenFile })));
  for (const r of replicas) stoppers.push(() => r.stop('SIGKILL'));
  await Promise.all(replicas.map((r) => r.start()));
  return { redis, upstream, replicas };
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2), process.env);
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore', timeout: 10_000 }).status !== 0) throw new Error('redis-server is not installed');
  const random = prng(options.seed);
  const began = Date.now();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'custody-proxy-chaos-'));
  // The replicas run dist/: rebuilt first when a source is newer, as the benches do (a stale dist/ would
  // put an older proxy under test without saying so).
  const built = await ensureDist(ROOT, dir, false).catch((err: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  if (built !== 'dist/ is up to date') log(`chaos: ${built}`);
  const stoppers: Array<() => Promise<void>> = [];
  // Ctrl-C: the children are tracked by PID and SIGKILLed at exit (test/helpers/processes.ts).
  process.once('SIGINT', () => process.exit(130));
  try {
    const { redis, upstream, replicas } = await startProcesses(options, dir, random, stoppers);
    log(`chaos: seed ${options.seed}, ${options.durationS} s, ${options.replicas} replicas, ${options.clients} clients, onStoreLoss ${options.onStoreLoss}, max stall ${options.maxStallS} s; node ${process.version}, ${os.cpus().length} CPUs; started in ${((Date.now() - began) / 1000).toFixed(1)} s`);
    const clients = new Clients(replicas.map((r) => r.url), random);
    const world: World = { options, random, redis, replicas, upstream, clients, log, t0: began };
    clients.start(options.clients);
    const faults = await runFaults(world, Date.now() + options.durationS * 1000);
    await clients.stop();
    const summary = classify(options, clients.operations, upstream, faults, began);
    log('');
    for (const line of report(summary)) log(line);
    log(`wall time ${summary.wallSeconds} s`);
    if (options.jsonPath) writeFileSync(options.jsonPath, `${JSON.stringify(summary, null, 2)}\n`);
    if (summary.invariants.some((i) => !i.ok)) {
      for (const e of summary.evidence) log(`${e.finding} ${e.key}: attempts [${e.attempts.join('; ')}] executions [${e.executions.join('; ')}]`);
      for (const r of replicas) if (/"level":(50|60)/.test(r.tail())) log(`replica ${r.slot} error lines:\n${r.tail().split('\n').filter((l) => /"level":(50|60)/.test(l)).slice(-5).join('\n')}`);
      return 1;
    }
    return 0;
  } finally {
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`chaos: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(2);
  },
);

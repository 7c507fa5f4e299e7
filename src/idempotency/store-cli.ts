// `custody-proxy store ack-loss [--config FILE]` (SPEC §2, §9 rev 2): acknowledges an idempotency-store
// loss for every replica sharing the config's Redis and key prefix, by writing a fresh marker (see
// store-marker.ts); each replica resumes keyed requests at its next poll. Exit 0 done, 1 failed, 2 usage.
import { configPath, loadConfig } from '../config/load.js';
import { EXIT_FAILED, EXIT_OK, parseCommand, reportError, unknownSubcommand } from '../command-line.js';
import { ProblemsError } from '../config/problems.js';
import { redisAtStart } from './redis-ca.js';

const STORE_USAGE = `usage: custody-proxy store <command> [options]

Commands:
  ack-loss   acknowledge an idempotency-store data loss (keyed requests resume)

Run custody-proxy store <command> --help for its options.`;

const ACK_LOSS = {
  name: 'store ack-loss',
  usage: `usage: custody-proxy store ack-loss [--config FILE]

Acknowledges a detected loss of the Redis idempotency store (idempotency.onStoreLoss: refuse) for
every replica sharing the config's Redis and key prefix; they resume keyed requests within a second.

options:
  -c, --config FILE     the proxy config (default $CUSTODY_PROXY_CONFIG, then config/custody-proxy.yaml)
  -h, --help            this help`,
  options: { config: { type: 'string', short: 'c' } },
} as const;

async function ackLoss(file: string): Promise<number> {
  const config = loadConfig(file);
  const idem = config.idempotency;
  if (idem.store !== 'redis') {
    process.stderr.write('custody-proxy store ack-loss: idempotency.store is memory: there is no shared store loss to acknowledge\n');
    return EXIT_FAILED;
  }
  const { RedisStore } = await import('./redis-store.js');
  // No WAIT: the marker is not a claim, and an operator's acknowledgement should not hang on a replica.
  // A wrong login or certificate only shows as "not connected" otherwise: say which.
  let problem: string | undefined;
  const onSetupProblem = (p: string): void => void (problem = p);
  const store = new RedisStore({ ...redisAtStart(idem.redis, config.configFile), waitReplicas: 0, commandTimeoutMs: 5000, onSetupProblem });
  try {
    await store.ackLoss();
    process.stdout.write(`acknowledged: idempotency store loss (${idem.redis.keyPrefix}); keyed requests resume within a second\n`);
    return EXIT_OK;
  } catch (err) {
    throw problem === undefined ? err : new Error(`${err instanceof Error ? err.message : String(err)} (Redis: ${problem})`);
  } finally {
    await store.close();
  }
}

export async function runStore(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  try {
    if (sub === '--help' || sub === '-h') {
      process.stdout.write(`${STORE_USAGE}\n`);
      return EXIT_OK;
    }
    if (sub !== 'ack-loss') throw unknownSubcommand('store', sub, ['ack-loss']);
    const parsed = parseCommand(rest, ACK_LOSS);
    return parsed ? await ackLoss(configPath(parsed.values.config)) : EXIT_OK;
  } catch (err) {
    if (err instanceof ProblemsError) {
      for (const p of err.problems) process.stderr.write(`${p}\n`);
      return EXIT_FAILED;
    }
    return reportError('custody-proxy store', err);
  }
}

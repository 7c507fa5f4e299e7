// `custody-proxy store ack-loss --config FILE` (SPEC §2, §9 rev 2): acknowledges an idempotency-store
// loss for every replica sharing the config's Redis and key prefix, by writing a fresh marker (see
// store-marker.ts); each replica resumes keyed requests at its next poll. Exit 0 done, 1 failed, 2 usage.
import { parseArgs } from 'node:util';
import { configPath, loadConfig } from '../config/load.js';

const USAGE = 'usage: custody-proxy store ack-loss [--config FILE]';

function configFlag(args: string[]): string | undefined {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } }, strict: true });
  return values.config;
}

export async function runStore(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  let flag: string | undefined;
  try {
    if (sub !== 'ack-loss') throw new Error(`unknown store command ${JSON.stringify(sub ?? '')}`);
    flag = configFlag(rest);
  } catch (err) {
    process.stderr.write(`custody-proxy: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const config = loadConfig(configPath(flag));
  const idem = config.idempotency;
  if (idem.store !== 'redis') {
    process.stderr.write('custody-proxy: idempotency.store is memory: there is no shared store loss to acknowledge\n');
    return 1;
  }
  const { RedisStore } = await import('./redis-store.js');
  // No WAIT: the marker is not a claim, and an operator's acknowledgement should not hang on a replica.
  const store = new RedisStore({ ...idem.redis, waitReplicas: 0, commandTimeoutMs: 5000 });
  try {
    await store.ackLoss();
    process.stdout.write(`acknowledged: idempotency store loss (${idem.redis.keyPrefix}); keyed requests resume within a second\n`);
    return 0;
  } finally {
    await store.close();
  }
}

// Picks the idempotency store from the config (SPEC §9): `memory` protects one process only and says
// so at start; `redis` is shared by every replica pointing at the same Redis and key prefix.
import type { Logger } from '../telemetry/logger.js';
import { countIdempotency, type Metrics } from '../telemetry/metrics.js';
import type { ParsedConfig } from '../config/schema.js';
import { MemoryStore } from './memory-store.js';
import { redisAtStart } from './redis-ca.js';
import { atMostEvery } from './redis-problems.js';
import type { IdempotencyStore } from './store.js';

/** How often a wrong Redis login or certificate is logged while it keeps failing every reconnect. */
export const SETUP_PROBLEM_LOG_MS = 10_000;

/** `configFile` anchors problems of idempotency.redis.caFile, which is read here, at start. */
export async function createStore(config: ParsedConfig['idempotency'], configFile: string, logger: Logger, metrics: Metrics): Promise<IdempotencyStore> {
  if (config.store === 'redis') {
    const redis = redisAtStart(config.redis, configFile);
    // Loaded only here: ioredis and its dependencies add about 1 MB of heap and their load time to every
    // process, and a proxy on the memory store never uses them.
    const { RedisStore } = await import('./redis-store.js');
    const mode = config.onStoreLoss;
    const onLoss = (): void => {
      metrics.storeLosses.inc();
      logger.error(
        { onStoreLoss: mode },
        mode === 'refuse'
          ? 'idempotency store lost its records: keyed requests get 503 until the loss is acknowledged (POST /admin/idempotency/ack-loss or custody-proxy store ack-loss)'
          : 'idempotency store lost its records: continuing (onStoreLoss: continue); retries of earlier keys may execute again',
      );
    };
    const onSetupProblem = atMostEvery(SETUP_PROBLEM_LOG_MS, (problem) => logger.error(
      { problem },
      'idempotency store cannot use Redis: keyed requests get 503 until idempotency.redis (login or TLS) is fixed',
    ));
    return new RedisStore({ ...redis, loss: { mode, ttlMs: config.ttl, onLoss }, onSetupProblem });
  }
  logger.warn(
    'idempotency store is memory: duplicates are caught only within this one process; use store: redis when running more than one replica',
  );
  return new MemoryStore({
    maxEntries: config.memory.maxEntries,
    maxBytes: config.memory.maxBytes,
    minTenantShare: config.memory.minTenantShare,
    onEvict: () => countIdempotency(metrics, 'evicted'),
  });
}

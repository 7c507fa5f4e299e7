// Picks the idempotency store from the config (SPEC §9): `memory` protects one process only and says
// so at start; `redis` is shared by every replica pointing at the same Redis and key prefix.
import type { Logger } from '../telemetry/logger.js';
import { countIdempotency, type Metrics } from '../telemetry/metrics.js';
import type { ParsedConfig } from '../config/schema.js';
import { MemoryStore } from './memory-store.js';
import type { IdempotencyStore } from './store.js';

export async function createStore(config: ParsedConfig['idempotency'], logger: Logger, metrics: Metrics): Promise<IdempotencyStore> {
  if (config.store === 'redis') {
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
    return new RedisStore({ ...config.redis, loss: { mode, ttlMs: config.ttl, onLoss } });
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

// Picks the rate limiters from the config (SPEC §13): `memory` counts per replica, `redis` shares the
// counts among replicas on idempotency.redis (same topology and key prefix; keys `<prefix>rl:…`).
// Failed-authentication buckets get their own memory limiter: they are keyed by client IP, so a flood
// of addresses must never evict a tenant's bucket.
import type { ProxyConfig } from '../config/load.js';
import { SETUP_PROBLEM_LOG_MS } from '../idempotency/create-store.js';
import { redisAtStart } from '../idempotency/redis-ca.js';
import { atMostEvery } from '../idempotency/redis-problems.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { MemoryLimiter } from './memory-limiter.js';
import type { Limiter } from './limiter.js';

export interface Limiters {
  /** tenant and key limits */
  readonly limits: Limiter;
  /** failed authentications per client IP; undefined when rateLimits.failedAuth is null */
  readonly failedAuth: Limiter | undefined;
  /** counts and logs a store failure (at most one log line per 10 s: an outage fails every check) */
  reportStoreError(err: unknown): void;
  close(): Promise<void>;
}

const LOG_EVERY_MS = 10_000;

export async function createLimiters(config: ProxyConfig, logger: Logger, metrics: Metrics): Promise<Limiters> {
  const rl = config.rateLimits;
  let limits: Limiter;
  if (rl.store === 'redis') {
    // Loaded only here, as the idempotency store does: a memory-only proxy never loads ioredis.
    const { RedisLimiter } = await import('./redis-limiter.js');
    const onSetupProblem = atMostEvery(SETUP_PROBLEM_LOG_MS, (problem) => logger.error(
      { problem },
      'rate limit store cannot use Redis: rateLimits.onStoreError decides until idempotency.redis (login or TLS) is fixed',
    ));
    limits = new RedisLimiter({ ...redisAtStart(config.idempotency.redis, config.configFile), onSetupProblem });
  } else {
    limits = new MemoryLimiter();
  }
  const failedAuth = rl.failedAuth === null ? undefined : rl.store === 'redis' ? limits : new MemoryLimiter();
  let loggedAt = -Infinity;
  return {
    limits,
    failedAuth,
    reportStoreError(err) {
      metrics.rateLimitStoreErrors.inc();
      const now = performance.now();
      if (now - loggedAt < LOG_EVERY_MS) return;
      loggedAt = now;
      logger.error({ err, onStoreError: rl.onStoreError }, `rate limit store failed: requests ${rl.onStoreError === 'allow' ? 'pass unlimited' : 'get 503'} while it fails (rateLimits.onStoreError)`);
    },
    async close() {
      await limits.close();
      if (failedAuth && failedAuth !== limits) await failedAuth.close();
    },
  };
}

// `idempotency.redis` as the Redis clients take it (redis-connection.ts): the config's section with
// caFile's bytes read. Read at start, so an unreadable CA stops `serve` (and `store ack-loss`) with
// a config problem instead of failing every TLS handshake later. Kept apart from redis-connection.ts
// so that the callers can use it without loading ioredis.
import type { RedisConfig } from '../config/redis-topology.js';
import { caAtStart } from '../tls/upstream-ca.js';
import type { RedisTopology } from './redis-connection.js';

export const REDIS_CA_PATH = 'idempotency.redis.caFile';

export type RedisAtStart = RedisConfig & RedisTopology;

export function redisAtStart(redis: RedisConfig, configFile: string): RedisAtStart {
  const ca = caAtStart(redis.caFile, REDIS_CA_PATH, configFile);
  return ca ? { ...redis, ca } : redis;
}

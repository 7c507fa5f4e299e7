// Where the store-loss marker (store-marker.ts) lives, per topology, each operation within the store's
// deadline (ReadyRunner). One server or Sentinel: the one key `<keyPrefix>marker`, as always (an upgrade
// finds its marker; one GET per poll). Cluster: one marker per master (shard-markers.ts), the masters
// taken from the client's slot map at every operation, all of one operation within one deadline.
import { Cluster } from 'ioredis';
import { ShardMarkers, lowestSlots, type KeyOps } from './shard-markers.js';
import type { ReadyRunner } from './ready-runner.js';
import type { RedisClient } from './redis-connection.js';
import type { MarkerBackend } from './store-marker.js';

export function markerBackend(client: RedisClient, runner: ReadyRunner, keyPrefix: string): MarkerBackend {
  const ops: KeyOps = {
    get: (key) => client.get(key),
    create: async (key, value) => {
      await client.set(key, value, 'NX');
    },
    set: async (key, value) => {
      await client.set(key, value);
    },
  };
  const key = `${keyPrefix}marker`;
  const backend: MarkerBackend = client instanceof Cluster
    ? new ShardMarkers(keyPrefix, () => lowestSlots(client.slots), ops)
    : { get: () => ops.get(key), create: (value) => ops.create(key, value), set: (value) => ops.set(key, value) };
  return {
    get: () => runner.run(() => backend.get()),
    create: (value) => runner.run(() => backend.create(value)),
    set: (value) => runner.run(() => backend.set(value)),
  };
}

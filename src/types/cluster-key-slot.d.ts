// cluster-key-slot ships no types; ioredis routes commands with it (shard-markers.ts uses it so the
// slot computed here is the slot ioredis sends the key to).
declare module 'cluster-key-slot' {
  /** The Redis Cluster hash slot (0–16383) of a key, its `{hash tag}` honoured. */
  function calculateSlot(key: string | Buffer): number;
  export = calculateSlot;
}

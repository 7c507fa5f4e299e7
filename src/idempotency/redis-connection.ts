// The ioredis client for the Redis store (SPEC §9 rev 2 topologies): one server, Sentinel or Cluster,
// all with the same fail-closed settings and, for Sentinel and Cluster, the login and TLS of the config
// (a single server's URL carries its own); and the one write that depends on the connection: a script
// followed by WAIT, which must run on the connection that carried the script (WAIT counts the
// replicas that have this connection's writes), so in a Cluster on the master of the key's slot.
import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { StoreUnavailableError } from './store.js';

export interface RedisNode {
  readonly host: string;
  readonly port: number;
}

/** How Sentinel and Cluster nodes are logged in and reached (SPEC §3 idempotency.redis). */
export interface RedisLogin {
  /** ACL user of the data nodes; only with password */
  readonly username?: string;
  readonly password?: string;
  /** TLS to every node, data nodes and sentinels */
  readonly tls?: boolean;
  /** caFile's bytes: the only CAs the nodes' certificates may chain to (else the system roots) */
  readonly ca?: Buffer;
}

/** Exactly one of these; the config (redis-topology.ts) has already refused anything else. */
export type RedisTopology =
  | { readonly url: string; readonly ca?: Buffer }
  | ({ readonly sentinels: readonly RedisNode[]; readonly name: string; readonly sentinelUsername?: string; readonly sentinelPassword?: string } & RedisLogin)
  | ({ readonly cluster: readonly RedisNode[] } & RedisLogin);

export type RedisClient = Redis | Cluster;

/** Settings every connection to a Redis server gets, whatever the topology. */
function serverOptions(timeoutMs: number) {
  return {
    // A queued claim could run long after we answered 503, leaving a record nobody owns, and a
    // re-sent one would find its own claim and report it in progress: never queue, never re-send.
    // ReadyRunner (ready-runner.ts) waits for 'ready' itself, within the same deadline.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: timeoutMs,
    // A connection that stops answering is torn down and reconnected instead of timing out forever.
    socketTimeout: timeoutMs * 2,
    connectTimeout: Math.max(timeoutMs, 1000),
    protocol: 2,
  } satisfies RedisOptions;
}

const retryStrategy = (attempt: number): number => Math.min(100 * attempt, 2000);

/** Node's TLS options for `tls: true`: the config's CA instead of the system roots, when given. */
export function tlsOf(login: RedisLogin): ConnectionOptions | undefined {
  if (!login.tls) return undefined;
  return login.ca ? { ca: login.ca } : {};
}

/** The data nodes' login; AUTH is sent only with a password (ioredis ignores a lone username). */
const authOf = (login: RedisLogin): Pick<RedisOptions, 'username' | 'password'> =>
  login.password === undefined ? {} : { username: login.username, password: login.password };

/** A new client (connecting at once) for the topology; every deadline derives from timeoutMs. */
export function connectRedis(topology: RedisTopology, timeoutMs: number): RedisClient {
  if ('cluster' in topology) return connectCluster(topology, timeoutMs);
  // Commands issued in one event-loop turn go out in one write (and their replies come back in one
  // read): a keyed POST costs two scripts, and a write per script was most of their cost.
  const options: RedisOptions = { ...serverOptions(timeoutMs), enableAutoPipelining: true, retryStrategy };
  if ('sentinels' in topology) {
    const tls = tlsOf(topology);
    return new Redis({
      ...options,
      ...authOf(topology),
      // ioredis speaks TLS to the master only with enableTLSForSentinelMode; sentinelTLS is for the sentinels.
      ...(tls && { tls, enableTLSForSentinelMode: true, sentinelTLS: tls }),
      ...(topology.sentinelPassword !== undefined && { sentinelUsername: topology.sentinelUsername, sentinelPassword: topology.sentinelPassword }),
      sentinels: topology.sentinels.map((n) => ({ host: n.host, port: n.port })),
      name: topology.name,
      sentinelCommandTimeout: timeoutMs,
      // Sentinel's +switch-master closes the connection at once, so a master cut off from its
      // replicas (whose WAITs fail) is left as soon as Sentinel has chosen another.
      failoverDetector: true,
    });
  }
  // A rediss:// URL turns TLS on; the options' `tls` (set first) only adds the CA.
  return new Redis(topology.url, topology.ca ? { ...options, tls: { ca: topology.ca } } : options);
}

function connectCluster(topology: Extract<RedisTopology, { cluster: unknown }>, timeoutMs: number): Cluster {
  const { enableOfflineQueue, ...perNode } = serverOptions(timeoutMs);
  const tls = tlsOf(topology);
  return new Cluster(topology.cluster.map((n) => ({ host: n.host, port: n.port })), {
    // The cluster-level queue; ioredis keeps a node's own queue on (it cannot be turned off), which
    // only holds commands while that node's connection opens, within commandTimeout.
    enableOfflineQueue,
    enableAutoPipelining: true,
    clusterRetryStrategy: retryStrategy,
    // A command whose connection closed may have run: ioredis would re-send it to another node
    // after this delay (0 turns that off). CLUSTERDOWN ones never ran but would wait past our deadline.
    retryDelayOnFailover: 0,
    retryDelayOnClusterDown: 0,
    slotsRefreshTimeout: timeoutMs,
    // Every node (those the slot map names too) is logged in and reached the same way.
    redisOptions: { ...perNode, ...authOf(topology), ...(tls && { tls }) },
  });
}

/** A script as sent by RedisStore: EVALSHA first, EVAL when the server does not hold it. */
export interface ScriptCall {
  readonly sha: string;
  readonly lua: string;
  readonly keys: readonly [string, string];
  readonly args: ReadonlyArray<string | Buffer | number>;
}

type Reply = [Error | null, unknown];
// ioredis has evalshaBuffer and evalBuffer at run time (on pipelines too) but does not declare them.
interface BufferPipeline {
  evalshaBuffer(sha: string, numKeys: number, ...args: Array<string | Buffer | number>): BufferPipeline;
  evalBuffer(lua: string, numKeys: number, ...args: Array<string | Buffer | number>): BufferPipeline;
  wait(replicas: number, timeoutMs: number): BufferPipeline;
  exec(): Promise<Reply[] | null>;
}

export interface Acknowledged {
  readonly reply: unknown;
  /** how many replicas had this connection's writes when WAIT answered */
  readonly acked: number;
}

/**
 * Runs the script and then `WAIT replicas waitMs` in one pipeline: one connection, and in a Cluster the
 * pipeline goes to the master of the keys' slot (WAIT has no key of its own, so alone it would go to any
 * node, whose answer says nothing about this write). Rejects when either command failed; whether too
 * few replicas is a failure depends on what the script did, so the caller decides (notEnough).
 */
export async function evalAndWait(client: RedisClient, call: ScriptCall, replicas: number, waitMs: number, mayRetry: () => boolean): Promise<Acknowledged> {
  const send = async (sha: boolean): Promise<Reply[]> => {
    const p = client.pipeline() as unknown as BufferPipeline;
    if (sha) p.evalshaBuffer(call.sha, 2, ...call.keys, ...call.args);
    else p.evalBuffer(call.lua, 2, ...call.keys, ...call.args);
    // WAIT 0 would block forever.
    p.wait(replicas, Math.max(1, Math.floor(waitMs)));
    return (await p.exec()) ?? [];
  };
  let replies = await send(true);
  // Scripts are cached per server; after a restart or failover the first call loads it again.
  if (replies[0]?.[0]?.message.startsWith('NOSCRIPT') && mayRetry()) replies = await send(false);
  const [[scriptErr, reply] = [null, undefined], [waitErr, acked] = [null, undefined]] = replies;
  const err = scriptErr ?? waitErr;
  if (err) {
    // ioredis does not retry a pipeline that met MOVED or ASK when its WAIT succeeded: refresh the slot
    // map so the next call goes to the right master (this one fails closed).
    if (client instanceof Cluster && /^(MOVED|ASK) /.test(err.message)) client.refreshSlotsCache();
    throw err;
  }
  if (typeof acked !== 'number') throw new StoreUnavailableError('idempotency store returned an unexpected WAIT reply');
  return { reply, acked };
}

export function notEnough(acked: number, replicas: number): StoreUnavailableError {
  return new StoreUnavailableError(`idempotency store: ${acked} of ${replicas} replicas acknowledged the write in time`);
}

// Redis topologies for the tests (SPEC §9 rev 2): redis-server children on free 127.0.0.1 ports, no
// persistence, each in its own temp folder (removed at teardown) and ended by its PID only. A Sentinel
// group (one master, replicas, sentinels with quorum 1 and short timeouts, so a SIGKILLed master is
// failed over within a few seconds) and a Cluster of masters (built with `redis-cli --cluster create`),
// optionally with a replica for one of them. Either may require a password (requirepass, and masterauth
// so replicas sync; the sentinels their own, and `sentinel auth-pass` for the nodes they watch) and
// speak TLS only (no plain port; replication, the cluster bus and Sentinel over TLS too).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Test } from 'tap';
import { Redis, type RedisOptions } from 'ioredis';
import { running, stopChild, track } from './processes.js';
import { freePort, waitFor } from './waits.js';
import { redisAnswers } from './redis-server.js';

const run = promisify(execFile);

export interface RedisNodeProcess {
  readonly port: number;
  /** `127.0.0.1:<port>` */
  readonly address: string;
  /** the current process's (changes with restart) */
  readonly pid: number;
  /** a plain client for inspecting and steering this node (closed at teardown) */
  readonly client: Redis;
  /** signal by PID and wait for the exit (bounded) */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** SIGKILL by PID, then start again on the same port and folder: empty (no persistence), once it answers */
  restart(): Promise<void>;
}

/** One field of INFO's `name:value` lines. */
export async function infoField(client: Redis, section: string, name: string): Promise<string | undefined> {
  const text = await client.info(section);
  return new RegExp(`^${name}:(.*)$`, 'm').exec(text)?.[1]?.trim();
}

/** How a node is protected: its requirepass (a data node's also its masterauth) and TLS only. */
export interface NodeSecurity {
  readonly password?: string;
  /** the node serves this leaf on its port (no plain port) and speaks TLS to the other nodes */
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly caFile: string };
}

/** A Sentinel group's or Cluster's protection; the sentinels' own password is `sentinelPassword`. */
export interface TopologySecurity extends NodeSecurity {
  readonly sentinelPassword?: string;
}

/** A test client's login for a node protected by `sec`. */
export const loginOf = (sec: NodeSecurity): RedisOptions => ({
  ...(sec.password !== undefined && { password: sec.password }),
  ...(sec.tls && { tls: { ca: readFileSync(sec.tls.caFile) } }),
});

/** redis.conf lines (a data node's as `--name value` arguments, a sentinel's in its file). */
function securityLines(port: number, sec: NodeSecurity, dataNode: boolean): Array<[string, string]> {
  const lines: Array<[string, string]> = [];
  if (sec.password !== undefined) lines.push(['requirepass', sec.password]);
  if (sec.password !== undefined && dataNode) lines.push(['masterauth', sec.password]);
  if (!sec.tls) return [['port', String(port)], ...lines];
  const { certFile, keyFile, caFile } = sec.tls;
  return [['port', '0'], ['tls-port', String(port)], ['tls-cert-file', certFile], ['tls-key-file', keyFile], ['tls-ca-cert-file', caFile],
    ['tls-auth-clients', 'no'], ['tls-replication', 'yes'], ...(dataNode ? [['tls-cluster', 'yes'] as [string, string]] : []), ...lines];
}

function plainClient(t: Test, port: number, sec: NodeSecurity): Redis {
  const client = new Redis({ ...loginOf(sec), host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 1000, retryStrategy: () => 200 });
  client.on('error', () => {});
  t.teardown(() => client.disconnect());
  return client;
}

/**
 * Starts `redis-server` (or `redis-server CONF --sentinel` when `sentinelConf` is given) on a free port
 * with `args`; resolves once it answers PING. Killed by PID and its folder removed at t's teardown.
 */
export async function startRedisNode(t: Test, args: (dir: string) => string[] = () => [], sentinelConf?: (port: number) => string, sec: NodeSecurity = {}): Promise<RedisNodeProcess> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'custody-proxy-topo-'));
  const own = securityLines(port, sec, sentinelConf === undefined);
  // A replica's first sync starts at once (by default a master waits 5 s for more replicas to join it).
  let argv = [...own.flatMap(([k, v]) => [`--${k}`, v]), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--repl-diskless-sync-delay', '0', ...args(dir)];
  if (sentinelConf) {
    // Sentinel rewrites its config file, so it must be a writable file of its own.
    const conf = path.join(dir, 'sentinel.conf');
    writeFileSync(conf, `${own.map(([k, v]) => `${k} ${v}`).join('\n')}\nbind 127.0.0.1\ndir ${dir}\n${sentinelConf(port)}`);
    argv = [conf, '--sentinel'];
  }
  let child: ChildProcess | undefined;
  t.teardown(async () => {
    if (child && running(child)) await stopChild(child, 'SIGKILL', 10_000).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  const client = plainClient(t, port, sec);
  // Spawns on the same port, folder and arguments (a Cluster node keeps its nodes.conf, so its slots).
  const launch = async (): Promise<ChildProcess> => {
    const started = spawn('redis-server', argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    if (started.pid === undefined) throw new Error('redis-server did not start');
    void track(started, started.pid);
    child = started; // killed at teardown even if it never answers
    let stderr = '';
    started.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    await waitFor(async () => {
      if (!running(started)) throw new Error(`redis-server exited: ${stderr}`);
      return redisAnswers(port, loginOf(sec));
    }, 15_000, `redis-server on port ${port}`, 50);
    return started;
  };
  const first = await launch();
  const node = {
    port,
    address: `127.0.0.1:${port}`,
    pid: first.pid ?? 0,
    client,
    kill: async (signal: NodeJS.Signals) => {
      if (child && running(child)) await stopChild(child, signal, 10_000);
    },
    restart: async () => {
      if (child && running(child)) await stopChild(child, 'SIGKILL', 10_000);
      node.pid = (await launch()).pid ?? 0;
    },
  };
  return node;
}

export interface SentinelGroup {
  readonly name: string;
  readonly master: RedisNodeProcess;
  readonly replicas: readonly RedisNodeProcess[];
  readonly sentinels: readonly RedisNodeProcess[];
  /** the master's address (`host:port`) as the first sentinel reports it */
  masterAddress(): Promise<string>;
}

/**
 * One master, `replicaCount` replicas (links up) and `sentinelCount` sentinels that see them all; quorum
 * 1, 500 ms down-after. Two replicas by default: after a failover the new master still has one, which
 * `waitReplicas: 1` needs.
 */
export async function startSentinelGroup(t: Test, replicaCount = 2, sentinelCount = 1, sec: TopologySecurity = {}): Promise<SentinelGroup> {
  const name = 'custody-test-master';
  const { sentinelPassword, ...dataSec } = sec;
  const master = await startRedisNode(t, undefined, undefined, dataSec);
  const replicas: RedisNodeProcess[] = [];
  for (let i = 0; i < replicaCount; i++) {
    const replica = await startRedisNode(t, () => ['--replicaof', '127.0.0.1', String(master.port)], undefined, dataSec);
    await waitFor(async () => (await infoField(replica.client, 'replication', 'master_link_status')) === 'up', 15_000, 'the replica to sync');
    replicas.push(replica);
  }
  const conf = [
    `sentinel monitor ${name} 127.0.0.1 ${master.port} 1`,
    `sentinel down-after-milliseconds ${name} 500`,
    `sentinel failover-timeout ${name} 3000`,
    `sentinel parallel-syncs ${name} ${Math.max(1, replicaCount)}`,
    ...(sec.password !== undefined ? [`sentinel auth-pass ${name} ${sec.password}`] : []),
    '',
  ].join('\n');
  const sentinelSec: NodeSecurity = { ...(sentinelPassword !== undefined && { password: sentinelPassword }), ...(sec.tls && { tls: sec.tls }) };
  const sentinels: RedisNodeProcess[] = [];
  for (let i = 0; i < sentinelCount; i++) sentinels.push(await startRedisNode(t, undefined, () => conf, sentinelSec));
  // A sentinel learns of the replicas from the master's INFO; a failover needs them known and healthy.
  for (const s of sentinels) {
    await waitFor(async () => {
      const known = (await s.client.call('SENTINEL', 'REPLICAS', name)) as unknown[];
      return replicas.every((r) => known.some((k) => Array.isArray(k) && k.includes(String(r.port)) && k.includes('slave')));
    }, 15_000, 'the sentinels to see the replicas', 100);
  }
  const masterAddress = async (): Promise<string> => {
    const addr = (await sentinels[0]?.client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as string[] | null;
    return addr ? `${addr[0]}:${addr[1]}` : '';
  };
  return { name, master, replicas, sentinels, masterAddress };
}

export interface RedisClusterNodes {
  readonly masters: readonly RedisNodeProcess[];
  /** which master holds the key's slot */
  masterOf(key: string): Promise<RedisNodeProcess>;
}

/** redis-cli's options for a protected node. */
const cliLogin = (sec: NodeSecurity): string[] => [
  ...(sec.password !== undefined ? ['-a', sec.password, '--no-auth-warning'] : []),
  ...(sec.tls ? ['--tls', '--cacert', sec.tls.caFile] : []),
];

const clusterArgs = (dir: string): string[] => ['--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, 'nodes.conf'), '--cluster-node-timeout', '2000'];

async function clusterOk(nodes: readonly RedisNodeProcess[]): Promise<boolean> {
  for (const n of nodes) {
    if ((await n.client.cluster('INFO')).includes('cluster_state:ok') === false) return false;
  }
  return true;
}

/** `count` (at least 3) masters sharing the 16384 slots, no replicas; resolves once every node says ok. */
export async function startRedisCluster(t: Test, count = 3, sec: NodeSecurity = {}): Promise<RedisClusterNodes> {
  const masters: RedisNodeProcess[] = [];
  for (let i = 0; i < count; i++) masters.push(await startRedisNode(t, clusterArgs, undefined, sec));
  await run('redis-cli', [...cliLogin(sec), '--cluster', 'create', ...masters.map((m) => m.address), '--cluster-yes'], { timeout: 30_000 });
  await waitFor(() => clusterOk(masters), 15_000, 'the cluster to be ok', 100);
  const masterOf = async (key: string): Promise<RedisNodeProcess> => {
    const slot = Number(await masters[0]?.client.cluster('KEYSLOT', key));
    const ranges = (await masters[0]?.client.cluster('SLOTS')) ?? [];
    const port = ranges.find(([from, to]) => slot >= from && slot <= to)?.[2]?.[1];
    const master = masters.find((m) => m.port === port);
    if (!master) throw new Error(`no master for slot ${slot}`);
    return master;
  };
  return { masters, masterOf };
}

/** A cluster replica of `master` (replication link up, known to the cluster). */
export async function addClusterReplica(t: Test, cluster: RedisClusterNodes, master: RedisNodeProcess): Promise<RedisNodeProcess> {
  const replica = await startRedisNode(t, clusterArgs);
  const id = String(await master.client.cluster('MYID'));
  await run('redis-cli', ['--cluster', 'add-node', replica.address, master.address, '--cluster-slave', '--cluster-master-id', id], { timeout: 30_000 });
  await waitFor(async () => (await infoField(replica.client, 'replication', 'master_link_status')) === 'up', 15_000, 'the cluster replica to sync', 100);
  await waitFor(() => clusterOk([...cluster.masters, replica]), 15_000, 'the cluster to be ok with the replica', 100);
  return replica;
}

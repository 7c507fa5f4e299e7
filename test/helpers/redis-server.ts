// Redis for the tests. A private redis-server on a free port, stopped, paused and restarted by its PID
// (for outages: the machine's Redis is never stopped); the machine's Redis (127.0.0.1:6379, shared)
// under a unique key prefix per run whose keys are deleted at teardown; and what a test file does
// when either is not there (`missing`: a failure under CI=true, a skipped subtest otherwise).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { Redis, type RedisOptions } from 'ioredis';
import { running, stopChild, track } from './processes.js';
import { freePort, waitFor } from './waits.js';

export function redisServerInstalled(): boolean {
  const r = spawnSync('redis-server', ['--version'], { stdio: 'ignore', timeout: 10_000 });
  return r.status === 0;
}

export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  /** the PID of the redis-server currently running, if any */
  pid(): number | undefined;
  /** (re)starts redis-server on the same port; resolves once it answers PING */
  start(): Promise<void>;
  /** SIGTERM (or `signal`) by PID, waits for exit */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** SIGSTOP / SIGCONT by PID: a Redis that accepts bytes but answers nothing */
  pause(): void;
  resume(): void;
}

/** A fresh connection's PING on 127.0.0.1:`port` (never retried, never queued). */
export async function redisAnswers(port: number, login: RedisOptions = {}): Promise<boolean> {
  const client = new Redis({ ...login, host: '127.0.0.1', port, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: 500, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/**
 * Spawns redis-server (no persistence) on `port`, tracked by PID; `ready` resolves once it answers PING
 * and rejects when it exits first or after 15 s (the child is handed back at once so teardown can stop it).
 */
function spawnRedisServer(port: number, dir: string): { child: ChildProcess; ready: Promise<void> } {
  const c = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (c.pid === undefined) throw new Error('redis-server did not start');
  void track(c, c.pid);
  let stderr = '';
  c.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const ready = waitFor(async () => {
    if (!running(c)) throw new Error(`redis-server exited: ${stderr}`);
    return redisAnswers(port);
  }, 15_000, `redis-server on port ${port}`, 50);
  return { child: c, ready };
}

/**
 * A redis-server (no persistence) on a free port, in `dir`, not started yet: the caller arranges its
 * SIGKILL (handle.stop) before calling start(), so a start that times out still ends the child. For
 * tests, startPrivateRedis; for scripts (npm run chaos), this directly.
 */
export async function privateRedis(dir: string): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  let paused = false;
  const handle: PrivateRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: () => (child && running(child) ? child.pid : undefined),
    async start() {
      if (child && running(child)) throw new Error('redis-server already running');
      const started = spawnRedisServer(port, dir);
      child = started.child;
      paused = false;
      await started.ready;
    },
    async stop(signal = 'SIGTERM') {
      if (!child || !running(child)) return;
      if (paused) handle.resume();
      await stopChild(child, signal, 10_000);
    },
    pause() {
      if (child?.pid === undefined || !running(child)) throw new Error('redis-server not running');
      process.kill(child.pid, 'SIGSTOP');
      paused = true;
    },
    resume() {
      if (child?.pid === undefined || !running(child)) return;
      process.kill(child.pid, 'SIGCONT');
      paused = false;
    },
  };
  return handle;
}

/** Starts a redis-server child on a free port (no persistence), SIGKILLed by PID at teardown. */
export async function startPrivateRedis(t: Test): Promise<PrivateRedis> {
  const dir = mkdtempSync(path.join(tmpdir(), 'custody-proxy-redis-'));
  const handle = await privateRedis(dir);
  t.teardown(async () => {
    await handle.stop('SIGKILL').catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  await handle.start();
  return handle;
}

export const MACHINE_REDIS_URL = process.env['CUSTODY_PROXY_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

export interface MachineRedis {
  readonly url: string;
  readonly prefix: string;
  /** a plain client for inspecting records */
  readonly client: Redis;
}

/**
 * Connects to the machine's Redis with a fresh prefix; undefined when unreachable. At t's teardown
 * every key under the prefix is deleted (SCAN/DEL) and the client closed.
 */
export async function machineRedis(t: Test, label: string): Promise<MachineRedis | undefined> {
  const client = new Redis(MACHINE_REDIS_URL, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: 1000, retryStrategy: () => null });
  client.on('error', () => {});
  const ok = await client
    .connect()
    .then(() => client.ping())
    .then(
      () => true,
      () => false,
    );
  if (!ok) {
    client.disconnect();
    return undefined;
  }
  const prefix = `custody-proxy-test:${label}:${process.pid}:${Date.now()}:`;
  t.teardown(async () => {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    if (keys.length > 0) await client.del(...keys);
    await client.quit().catch(() => client.disconnect());
  });
  return { url: MACHINE_REDIS_URL, prefix, client };
}

/** What a test file does without a needed external: fail under CI=true, a skipped subtest otherwise. */
export function missing(t: Test, what: string): void {
  if (process.env['CI']) t.fail(`${what}; CI needs it`);
  else void t.test(what, { skip: `${what}; skipped outside CI` }, () => {});
}

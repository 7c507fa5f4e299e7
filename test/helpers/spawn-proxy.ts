// Real processes for the idempotency integration tests: the CLI (`node bin/custody-proxy.js serve
// --config FILE`; bin imports dist/, so run `npm run build` first), a private redis-server on a free
// port, the machine's Redis with a per-run key prefix, bounded waits, and the small client utilities
// those tests share. Every process started here is ended by its own PID only (teardown, or SIGKILL on exit).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { Redis } from 'ioredis';
import { startRequest, type InFlightRequest, type Reply, type RequestSpec } from './http-client.js';
import { writeConfigDir, type ProxyOptions } from './start-proxy.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'custody-proxy.js');

// Children still running when this test process exits are killed by PID, never by name.
const live = new Set<number>();
let exitHookInstalled = false;
function track(pid: number): void {
  live.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const p of live) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Resolves once cond() is true; rejects after timeoutMs with `what`. Polls every intervalMs. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string, intervalMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Races p against a timer; rejects with `what` when the timer wins. */
export async function within<T>(p: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms: ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago (nothing listens on it now). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (port === 0) throw new Error('no free port');
  return port;
}

function exitOf(child: ChildProcess): Promise<Exit> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

function running(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

/** Sends signal to the child by its PID and waits (bounded) for it to exit. */
async function stopChild(child: ChildProcess, signal: NodeJS.Signals, timeoutMs: number): Promise<Exit> {
  const exited = exitOf(child);
  if (running(child) && child.pid !== undefined) process.kill(child.pid, signal);
  try {
    return await within(exited, timeoutMs, `pid ${child.pid} to exit after ${signal}`);
  } catch (err) {
    if (running(child) && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------
// The proxy CLI

export interface SpawnedProxy {
  readonly pid: number;
  readonly url: string;
  readonly adminUrl: string;
  readonly port: number;
  readonly adminPort: number;
  /** the config folder (custody-proxy.yaml + credentials.yaml) */
  readonly dir: string;
  stdout(): string;
  stderr(): string;
  /** JSON log lines parsed from stdout so far (non-JSON lines are skipped) */
  logLines(): Array<Record<string, unknown>>;
  readonly exited: Promise<Exit>;
  /** signal by PID, wait for exit (bounded) */
  kill(signal: NodeJS.Signals, timeoutMs?: number): Promise<Exit>;
}

export interface SpawnOptions extends ProxyOptions {
  /** reuse an existing config folder (a restart with the same config); otherwise a new one is written */
  readonly dir?: string;
  readonly startTimeoutMs?: number;
}

/** custody-proxy's `custody-proxy listening` log line; only the ports are checked. */
export interface ListeningLine {
  readonly level?: string;
  readonly proxy: { readonly port: number; readonly address?: string };
  readonly admin: { readonly port: number; readonly address?: string };
}

function isListening(v: unknown): v is ListeningLine {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  const hasPort = (x: unknown): boolean =>
    typeof x === 'object' && x !== null && typeof (x as Record<string, unknown>)['port'] === 'number';
  return o['msg'] === 'custody-proxy listening' && hasPort(o['proxy']) && hasPort(o['admin']);
}

/**
 * Resolves with the listening line from a custody-proxy child's stdout (call it before any output
 * can arrive); rejects after timeoutMs or when the child exits first, with context() in the message.
 */
export function waitForListening(child: ChildProcess, timeoutMs: number, context: () => string): Promise<ListeningLine> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => finish(new Error(`no listening line within ${timeoutMs} ms\n${context()}`)), timeoutMs);
    const onData = (c: Buffer | string): void => {
      buffered += String(c);
      for (const line of buffered.split('\n')) {
        if (!line.includes('custody-proxy listening')) continue;
        let parsed: unknown;
        try {
          parsed = JSON.parse(line);
        } catch {
          continue;
        }
        if (isListening(parsed)) finish(undefined, parsed);
      }
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      finish(new Error(`custody-proxy exited (${code ?? signal}) before listening\n${context()}`));
    function finish(err: Error | undefined, value?: ListeningLine): void {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else if (value) resolve(value);
    }
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}

export function assertBuilt(): void {
  if (!existsSync(path.join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/ is missing: run `npm run build` first');
}

/**
 * Starts `custody-proxy serve --config DIR/custody-proxy.yaml` and resolves once its JSON
 * 'custody-proxy listening' line names the ports. Killed by PID in t.teardown if still running.
 */
export async function spawnProxy(t: Test, options: SpawnOptions): Promise<SpawnedProxy> {
  assertBuilt();
  const dir = options.dir ?? writeConfigDir(options);
  if (!options.dir) t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env['NODE_OPTIONS'];
  delete env['CUSTODY_PROXY_CONFIG'];
  const child = spawn(process.execPath, [BIN, 'serve', '--config', path.join(dir, 'custody-proxy.yaml')], {
    cwd: dir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error('custody-proxy did not start');
  const pid = child.pid;
  track(pid);
  const exited = exitOf(child).then((e) => {
    live.delete(pid);
    return e;
  });
  t.teardown(async () => {
    if (running(child)) await stopChild(child, 'SIGKILL', 10_000).catch(() => undefined);
  });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (err += c));

  const listening = await waitForListening(child, options.startTimeoutMs ?? 30_000, () => `stdout: ${out}\nstderr: ${err}`);

  return {
    pid,
    url: `http://127.0.0.1:${listening.proxy.port}`,
    adminUrl: `http://127.0.0.1:${listening.admin.port}`,
    port: listening.proxy.port,
    adminPort: listening.admin.port,
    dir,
    stdout: () => out,
    stderr: () => err,
    logLines: () => {
      const lines: Array<Record<string, unknown>> = [];
      for (const line of out.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const v: unknown = JSON.parse(line);
          if (typeof v === 'object' && v !== null) lines.push(v as Record<string, unknown>);
        } catch {
          // a line still being written
        }
      }
      return lines;
    },
    exited,
    kill: (signal, timeoutMs = 15_000) => stopChild(child, signal, timeoutMs),
  };
}

// ---------------------------------------------------------------------------------------------------
// A private redis-server (for outages: the machine's Redis on 6379 is never stopped)

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
  /** SIGTERM by PID, waits for exit */
  stop(): Promise<void>;
  /** SIGSTOP / SIGCONT by PID: a Redis that accepts bytes but answers nothing */
  pause(): void;
  resume(): void;
}

async function redisAnswers(port: number): Promise<boolean> {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: 500, retryStrategy: () => null });
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

/** Starts a redis-server child on a free port (no persistence), stopped by PID at teardown. */
export async function startPrivateRedis(t: Test): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'custody-proxy-redis-'));
  let child: ChildProcess | undefined;
  let paused = false;
  const handle: PrivateRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: () => (child && running(child) ? child.pid : undefined),
    async start() {
      if (child && running(child)) throw new Error('redis-server already running');
      const c = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      if (c.pid === undefined) throw new Error('redis-server did not start');
      const pid = c.pid;
      track(pid);
      void exitOf(c).then(() => live.delete(pid));
      child = c;
      paused = false;
      let stderr = '';
      c.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
      await waitFor(async () => {
        if (!running(c)) throw new Error(`redis-server exited: ${stderr}`);
        return redisAnswers(port);
      }, 15_000, `redis-server on port ${port}`, 50);
    },
    async stop() {
      if (!child || !running(child)) return;
      if (paused) handle.resume();
      await stopChild(child, 'SIGTERM', 10_000);
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
  t.teardown(async () => {
    if (child && running(child)) {
      if (paused) handle.resume();
      await stopChild(child, 'SIGKILL', 10_000).catch(() => undefined);
    }
    rmSync(dir, { recursive: true, force: true });
  });
  await handle.start();
  return handle;
}

// ---------------------------------------------------------------------------------------------------
// The machine's Redis (127.0.0.1:6379), shared: a unique key prefix per run, keys deleted at the end

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
  const client = new Redis(MACHINE_REDIS_URL, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
    retryStrategy: () => null,
  });
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

// ---------------------------------------------------------------------------------------------------
// Client and upstream utilities shared by the idempotency tests

export interface Gate {
  readonly wait: Promise<void>;
  open(): void;
}

/** A latch the test opens: a gated upstream holds its answer until then (no timing guesses). */
export function gate(): Gate {
  let open: () => void = () => {};
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

export type CallReply = Reply;
export type CallSpec = Omit<RequestSpec, 'agent'>;
export type InFlightCall = InFlightRequest;

/** One request on a fresh connection to 127.0.0.1, keeping the raw response header lines. */
export function startCall(baseUrl: string, spec: CallSpec = {}): InFlightCall {
  if (new URL(spec.path ?? '/', baseUrl).hostname !== '127.0.0.1') throw new Error('tests only talk to 127.0.0.1');
  return startRequest(baseUrl, { timeoutMs: 15_000, ...spec });
}

export function call(baseUrl: string, spec: CallSpec = {}): Promise<CallReply> {
  return startCall(baseUrl, spec).reply;
}

/** Response header lines that a replay must reproduce: lowercased, in order, minus the regenerated ones. */
const REGENERATED = new Set(['date', 'x-request-id', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'set-cookie', 'idempotent-replayed']);
export function endToEndHeaders(reply: CallReply): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < reply.rawHeaders.length; i += 2) {
    const name = (reply.rawHeaders[i] ?? '').toLowerCase();
    if (!REGENERATED.has(name)) out.push([name, reply.rawHeaders[i + 1] ?? '']);
  }
  return out;
}

/** How many times the upstream executed a request carrying exactly this Idempotency-Key value. */
export function executions(requests: ReadonlyArray<{ readonly headers: http.IncomingHttpHeaders }>, ...keyValues: string[]): number {
  return requests.filter((r) => {
    const v = r.headers['idempotency-key'];
    return typeof v === 'string' && keyValues.includes(v);
  }).length;
}

/** A §10 error body: status, code, JSON, no-store, requestId equal to the X-Request-Id header. */
export function assertProxyError(t: Test, r: CallReply, status: number, code: string, what: string): void {
  t.equal(r.status, status, `${what}: status ${status} (${r.text})`);
  let body: Record<string, unknown> = {};
  try {
    body = r.json();
  } catch {
    t.fail(`${what}: JSON body`);
  }
  t.equal(body['code'], code, `${what}: code ${code}`);
  t.match(r.headers['content-type'] ?? '', /^application\/json/, `${what}: JSON content type`);
  t.equal(r.headers['cache-control'], 'no-store', `${what}: no-store`);
  t.match(r.headers['x-request-id'] ?? '', /^req_/, `${what}: X-Request-Id`);
  t.equal(body['requestId'], r.headers['x-request-id'], `${what}: requestId equals X-Request-Id`);
  t.notOk(r.headers['idempotent-replayed'], `${what}: not marked as a replay`);
}

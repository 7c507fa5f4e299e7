// The processes under test, each started and ended by its own PID: a private redis-server without
// persistence (so a restart is a data loss) and N `custody-proxy serve` replicas (the built dist/), each
// on fixed ports across restarts so the clients' replica list stays valid. Everything on 127.0.0.1.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { credentialsYaml, type KeySpec } from '../../test/helpers/credentials.js';
import { request } from '../../test/helpers/http-client.js';
import { running, stopChild, track } from '../../test/helpers/processes.js';
import { freePort, waitFor } from '../../test/helpers/waits.js';
import type { OnStoreLoss } from './options.js';

const ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
const BIN = path.join(ROOT, 'bin', 'custody-proxy.js');

export const TENANTS = ['tnt_chaos_a', 'tnt_chaos_b'] as const;
export const KEYS: readonly KeySpec[] = TENANTS.map((tenant) => ({ keyId: `ck_test_${tenant}`, tenant, secret: `sk_test_${tenant}_secret_0123456789` }));
/** the recovery probes' own tenant, so probe keys never mix with the clients' operations */
export const PROBE: KeySpec = { keyId: 'ck_test_chaos_probe', tenant: 'tnt_chaos_probe', secret: 'sk_test_chaos_probe_secret_0123' };
export const ADMIN_TOKEN = 'chaos-admin-token-0123456789abcdef';

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

export class PrivateRedis {
  #child: ChildProcess | undefined;
  #paused = false;
  private constructor(readonly port: number, private readonly dir: string) {}

  static async start(dir: string): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort(), dir);
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** (Re)starts redis-server on the same port, empty; resolves once it answers PING. */
  async start(): Promise<void> {
    const c = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir], { stdio: 'ignore' });
    if (c.pid === undefined) throw new Error('redis-server did not start');
    void track(c, c.pid);
    this.#child = c;
    this.#paused = false;
    await waitFor(async () => {
      if (!running(c)) throw new Error('redis-server exited at start');
      return redisAnswers(this.port);
    }, 15_000, `redis-server on port ${this.port}`, 25);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const c = this.#child;
    if (!c || !running(c)) return;
    if (this.#paused) this.resume();
    await stopChild(c, signal, 10_000);
  }

  pause(): void {
    if (this.#child?.pid === undefined || !running(this.#child)) throw new Error('redis-server is not running');
    process.kill(this.#child.pid, 'SIGSTOP');
    this.#paused = true;
  }

  resume(): void {
    if (this.#child?.pid !== undefined && running(this.#child)) process.kill(this.#child.pid, 'SIGCONT');
    this.#paused = false;
  }
}

export interface ReplicaSettings {
  readonly redisUrl: string;
  readonly upstreamUrl: string;
  readonly onStoreLoss: OnStoreLoss;
  readonly tokenFile: string;
}

export class Replica {
  #child: ChildProcess | undefined;
  /** the last 20 kB of its output, for a failure message */
  #tail = '';
  private constructor(readonly slot: number, readonly port: number, readonly adminPort: number, private readonly config: string) {}

  static async create(slot: number, dir: string, settings: ReplicaSettings): Promise<Replica> {
    const [port, adminPort] = [await freePort(), await freePort()];
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'credentials.yaml'), credentialsYaml([...TENANTS.map((id) => ({ id })), { id: PROBE.tenant }], [...KEYS, PROBE]));
    const config = path.join(dir, 'custody-proxy.yaml');
    writeFileSync(config, stringify({
      listen: `127.0.0.1:${port}`,
      admin: { listen: `127.0.0.1:${adminPort}`, tokenFile: settings.tokenFile },
      upstream: { url: settings.upstreamUrl, timeout: '5s', connectTimeout: '1s' },
      credentials: { file: 'credentials.yaml' },
      // The defaults otherwise (lease 10s, ttl 24h): the run checks the configuration operators get.
      idempotency: { store: 'redis', redis: { url: settings.redisUrl, keyPrefix: 'chaos:' }, onStoreLoss: settings.onStoreLoss },
      logging: { level: 'warn' }, // no access line per request; store-loss errors still show
      // A short bound keeps a SIGTERM fault to a few seconds; in-flight requests take < 100 ms.
      shutdownTimeout: '3s',
    }));
    return new Replica(slot, port, adminPort, config);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get adminUrl(): string {
    return `http://127.0.0.1:${this.adminPort}`;
  }

  get pid(): number | undefined {
    return this.#child && running(this.#child) ? this.#child.pid : undefined;
  }

  tail(): string {
    return this.#tail;
  }

  /** Spawns `custody-proxy serve`; resolves once the proxy port accepts connections. */
  async start(): Promise<void> {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env['NODE_OPTIONS']; // the proxy runs the built dist/, without the tsx loader
    delete env['CUSTODY_PROXY_CONFIG'];
    const c = spawn(process.execPath, [BIN, 'serve', '--config', this.config], { cwd: path.dirname(this.config), env, stdio: ['ignore', 'pipe', 'pipe'] });
    if (c.pid === undefined) throw new Error(`replica ${this.slot} did not start`);
    void track(c, c.pid);
    this.#child = c;
    const keep = (s: string): void => void (this.#tail = (this.#tail + s).slice(-20_000));
    c.stdout?.setEncoding('utf8').on('data', keep);
    c.stderr?.setEncoding('utf8').on('data', keep);
    await waitFor(async () => {
      if (!running(c)) throw new Error(`replica ${this.slot} exited at start:\n${this.#tail}`);
      // Any answer from the proxy listener (a 401 here) means it serves; the admin port is up first.
      return request(this.url, { path: '/', timeoutMs: 1000 }).then((r) => r.status === 401, () => false);
    }, 30_000, `replica ${this.slot} to listen`, 25);
  }

  /** Signals the running process by its PID and waits (bounded) for it to exit. */
  async stop(signal: NodeJS.Signals): Promise<void> {
    const c = this.#child;
    if (!c || !running(c)) return;
    await stopChild(c, signal, 15_000);
  }
}

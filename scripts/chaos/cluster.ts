// The replicas under test, each started and ended by its own PID: N `custody-proxy serve` (the built
// dist/) on the private redis-server (test/helpers/redis-server.ts privateRedis), each
// on fixed ports across restarts so the clients' replica list stays valid. Everything on 127.0.0.1.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
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
      // A SIGTERM fault is a rollout: a short drain delay (clients keep being served, then get 503 or
      // a refused connection and retry elsewhere), and a short bound: in-flight requests take < 100 ms.
      drainDelay: '1s',
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

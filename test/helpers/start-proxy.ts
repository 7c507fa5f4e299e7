// Starts the real proxy (startApp, the same wiring as `custody-proxy serve`) on 127.0.0.1 port 0
// with a temp config folder, and captures its log lines in memory.
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { startApp, type App } from '../../src/app.js';
import { createLoggers } from '../../src/telemetry/logger.js';

export interface TestProxy {
  readonly app: App;
  readonly url: string;
  readonly adminUrl: string;
  readonly port: number;
  readonly dir: string;
  /** every log line written so far, raw JSON text */
  readonly logs: string[];
  logText(): string;
  close(): Promise<void>;
}

export interface ProxyOptions {
  /** merged over the base config (listen on 127.0.0.1:0, the upstream, credentials.yaml) */
  readonly config?: Record<string, unknown>;
  readonly credentialsYaml: string;
  readonly upstreamUrl: string;
}

export function writeConfigDir(options: ProxyOptions): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'custody-proxy-test-'));
  const base: Record<string, unknown> = {
    listen: '127.0.0.1:0',
    admin: { listen: '127.0.0.1:0' },
    upstream: { url: options.upstreamUrl, timeout: '5s', connectTimeout: '1s' },
    credentials: { file: 'credentials.yaml' },
    logging: { level: 'info' },
    // Tests that do not test the rollout drain (SPEC §12) stop at once rather than after 5 s.
    drainDelay: '0s',
    shutdownTimeout: '2s',
  };
  writeFileSync(path.join(dir, 'custody-proxy.yaml'), stringify({ ...base, ...(options.config ?? {}) }));
  writeFileSync(path.join(dir, 'credentials.yaml'), options.credentialsYaml);
  return dir;
}

export async function startProxy(options: ProxyOptions): Promise<TestProxy> {
  const dir = writeConfigDir(options);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(line);
      cb();
    },
  });
  const config = loadConfig(path.join(dir, 'custody-proxy.yaml'));
  const { logger, access } = createLoggers(config.logging.level, sink, false);
  const app = await startApp(config, { logger, accessLog: access, processMetrics: false });
  return {
    app,
    url: `http://127.0.0.1:${app.proxyAddress.port}`,
    adminUrl: `http://127.0.0.1:${app.adminAddress.port}`,
    port: app.proxyAddress.port,
    dir,
    logs,
    logText: () => logs.join('\n'),
    async close() {
      await app.shutdown();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

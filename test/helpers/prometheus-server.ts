// A real Prometheus server (the Debian `prometheus` binary) for tests: it scrapes one target on
// 127.0.0.1 and evaluates rule files, with its TSDB in a temp folder; tests ask it PromQL through its
// HTTP API. Tracked by PID (processes.ts), stopped by PID at teardown, its folder removed.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { stringify } from 'yaml';
import { request } from './http-client.js';
import { running, stopChild, track } from './processes.js';
import { freePort, waitFor } from './waits.js';

export function prometheusInstalled(): boolean {
  return spawnSync('prometheus', ['--version'], { stdio: 'ignore', timeout: 10_000 }).status === 0;
}

export interface PromSample {
  readonly metric: Record<string, string>;
  /** the sample value as a number (NaN and ±Inf included) */
  readonly value: number;
}

export interface PrometheusServer {
  readonly url: string;
  readonly pid: number;
  /** an instant query at the server's now; throws on a PromQL error, naming the query */
  query(expr: string): Promise<PromSample[]>;
  stderr(): string;
}

export interface PrometheusOptions {
  readonly job: string;
  /** host:port of the one scrape target */
  readonly target: string;
  readonly ruleFiles: readonly string[];
  readonly scrapeInterval: string;
  readonly scrapeTimeout: string;
  readonly evaluationInterval: string;
}

interface QueryAnswer {
  readonly status: string;
  readonly error?: string;
  readonly data?: { readonly resultType: string; readonly result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

async function instantQuery(url: string, expr: string): Promise<PromSample[]> {
  const res = await request(url, { path: `/api/v1/query?query=${encodeURIComponent(expr)}`, timeoutMs: 10_000 });
  const answer = res.json<QueryAnswer>();
  if (answer.status !== 'success' || answer.data?.resultType !== 'vector') {
    throw new Error(`query ${expr} failed (${res.status}): ${answer.error ?? res.text}`);
  }
  return answer.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

function writeConfig(dir: string, o: PrometheusOptions): string {
  const file = path.join(dir, 'prometheus.yml');
  writeFileSync(file, stringify({
    global: { scrape_interval: o.scrapeInterval, scrape_timeout: o.scrapeTimeout, evaluation_interval: o.evaluationInterval },
    rule_files: o.ruleFiles,
    scrape_configs: [{ job_name: o.job, static_configs: [{ targets: [o.target] }] }],
  }));
  return file;
}

/** Starts Prometheus on a free 127.0.0.1 port; resolves once /-/ready answers 200. */
export async function startPrometheus(t: Test, options: PrometheusOptions): Promise<PrometheusServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'custody-proxy-prometheus-'));
  const port = await freePort();
  const child = spawn('prometheus', [
    `--config.file=${writeConfig(dir, options)}`,
    `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (child.pid === undefined) throw new Error('prometheus did not start');
  const pid = child.pid;
  void track(child, pid);
  t.teardown(async () => {
    if (running(child)) await stopChild(child, 'SIGTERM', 10_000).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (err += s));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => {
    if (!running(child)) throw new Error(`prometheus exited: ${err}`);
    return request(url, { path: '/-/ready', timeoutMs: 1000 }).then((r) => r.status === 200, () => false);
  }, 20_000, `prometheus on port ${port}`, 100);
  return { url, pid, query: (expr) => instantQuery(url, expr), stderr: () => err };
}

// The proxy CLI as a real child process: `node bin/custody-proxy.js serve --config FILE` (bin imports
// dist/, so run `npm run build` first), resolved once its JSON listening line names the ports, with
// its stdout/stderr kept for assertions. Ended by its PID only (see processes.ts): at teardown, or
// SIGKILL when the test process exits.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { running, stopChild, track, type Exit } from './processes.js';
import { writeConfigDir, type ProxyOptions } from './start-proxy.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'custody-proxy.js');

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
  /** added to the proxy's environment (what a config's ${VAR} reads) */
  readonly env?: NodeJS.ProcessEnv;
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

/** The JSON objects among these stdout lines (a line still being written is skipped). */
function jsonLines(out: string): Array<Record<string, unknown>> {
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
}

function spawnServe(dir: string, extraEnv: NodeJS.ProcessEnv = {}): ChildProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv };
  delete env['NODE_OPTIONS'];
  delete env['CUSTODY_PROXY_CONFIG'];
  return spawn(process.execPath, [BIN, 'serve', '--config', path.join(dir, 'custody-proxy.yaml')], {
    cwd: dir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * Starts `custody-proxy serve --config DIR/custody-proxy.yaml` and resolves once its JSON
 * 'custody-proxy listening' line names the ports. Killed by PID in t.teardown if still running.
 */
export async function spawnProxy(t: Test, options: SpawnOptions): Promise<SpawnedProxy> {
  assertBuilt();
  const dir = options.dir ?? writeConfigDir(options);
  if (!options.dir) t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const child = spawnServe(dir, options.env);
  if (child.pid === undefined) throw new Error('custody-proxy did not start');
  const pid = child.pid;
  const exited = track(child, pid);
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
    logLines: () => jsonLines(out),
    exited,
    kill: (signal, timeoutMs = 15_000) => stopChild(child, signal, timeoutMs),
  };
}

// Running the CLI in tests: in this process (main or runKeys, with stdout and stderr captured; no
// Node start-up, so fast) or as the real bin (where the process's own exit code and streams matter).
// A bin run longer than its bound is killed by its PID and fails.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = path.join(ROOT, 'bin', 'custody-proxy.js');

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Calls a command's entry point here with process.stdout/stderr captured (restored even on throw). */
export async function inProcess(entry: (args: string[]) => Promise<number>, args: readonly string[]): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write;
  const err = process.stderr.write;
  process.stdout.write = ((chunk: string | Uint8Array): boolean => {
    stdout += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array): boolean => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  let code: number;
  try {
    code = await entry([...args]);
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
  return { code, stdout, stderr };
}

export interface BinOptions {
  readonly cwd?: string;
  /** the whole environment of the child (default: this process's, without NODE_OPTIONS) */
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
}

/** `node bin/custody-proxy.js <args>` to completion. */
export function runBin(args: readonly string[], options: BinOptions = {}): Promise<CliRun> {
  const env = options.env ?? { ...process.env };
  delete env['NODE_OPTIONS'];
  const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd ?? ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
      reject(new Error(`custody-proxy ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

// The bench's child processes: spawned with stdout and stderr going to files (nothing to drain, no
// back-pressure on the child), tracked by PID, and ended by PID at the end, on SIGINT/SIGTERM and on
// errors. Also reads a process's CPU time (user + system, all threads) from /proc/<pid>/stat.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly stdoutFile: string;
  readonly stderrFile: string;
  readonly proc: ChildProcess;
  /** resolves with the exit code (or the signal's name) when the process has exited */
  readonly exited: Promise<number | string>;
}

const live = new Set<Child>();

const hasExited = (c: Child): boolean => c.proc.exitCode !== null || c.proc.signalCode !== null;

/** Starts `node <args>` (or `command <args>`) in `cwd`; its output goes to `<logDir>/<name>.out|.err`. */
export function startChild(name: string, args: readonly string[], logDir: string, cwd: string, command: string = process.execPath): Child {
  const stdoutFile = path.join(logDir, `${name}.out`);
  const stderrFile = path.join(logDir, `${name}.err`);
  const out = openSync(stdoutFile, 'w');
  const err = openSync(stderrFile, 'w');
  // NODE_OPTIONS is dropped so no loader or flag from the bench's own runtime (tsx) leaks into a child.
  const env = { ...process.env };
  delete env['NODE_OPTIONS'];
  const proc = spawn(command, args, { cwd, env, stdio: ['ignore', out, err] });
  closeSync(out);
  closeSync(err);
  if (proc.pid === undefined) throw new Error(`could not start ${name}`);
  const exited = new Promise<number | string>((resolve) => {
    proc.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  const child: Child = { name, pid: proc.pid, stdoutFile, stderrFile, proc, exited };
  live.add(child);
  void exited.then(() => live.delete(child));
  return child;
}

export function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls the child's stdout file for the first JSON line `pick` accepts. */
export async function waitForLine<T>(child: Child, pick: (line: Record<string, unknown>) => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let text = '';
    try {
      text = readFileSync(child.stdoutFile, 'utf8');
    } catch {
      text = '';
    }
    for (const line of text.split('\n')) {
      if (!line.startsWith('{')) continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        continue;
      }
      if (parsed === null || typeof parsed !== 'object') continue;
      const found = pick(parsed as Record<string, unknown>);
      if (found !== undefined) return found;
    }
    if (hasExited(child)) throw new Error(`${child.name} exited before it was ready:\n${tail(child.stderrFile)}`);
    if (Date.now() > deadline) throw new Error(`${child.name} not ready after ${timeoutMs} ms:\n${tail(child.stderrFile)}`);
    await sleep(50);
  }
}

/** Runs `node <args>` to completion; ended by PID when it takes longer than timeoutMs. */
export async function runToCompletion(name: string, args: readonly string[], logDir: string, cwd: string, timeoutMs: number): Promise<number | string> {
  const child = startChild(name, args, logDir, cwd);
  const timer = setTimeout(() => void stopChild(child, 1000), timeoutMs);
  try {
    return await child.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** SIGTERM by PID, then SIGKILL after graceMs. */
export async function stopChild(child: Child, graceMs = 3000): Promise<void> {
  if (hasExited(child)) return;
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const killed = await Promise.race([child.exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!killed && !hasExited(child)) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      return;
    }
    await Promise.race([child.exited, sleep(1000)]);
  }
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((c) => stopChild(c)));
}

/** Last resort when the bench exits without stopAll (a crash): SIGKILL what is left, by PID. */
function killLeftovers(): void {
  for (const c of live) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** SIGINT/SIGTERM stop every child, run `cleanup` and exit 130/143. */
export function installCleanup(cleanup: () => void): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\nbench: ${signal}, stopping child processes\n`);
    void stopAll().finally(() => {
      cleanup();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', killLeftovers);
}

let clockTicks: number | undefined;

function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** CPU seconds (utime + stime) a process has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / ticksPerSecond();
}

/**
 * A bench's whole run: SIGINT/SIGTERM and a hard time budget stop every child and run `cleanup`; so does
 * the end of `body`, after `afterChildren` (e.g. deleting the run's Redis keys). A failure is printed
 * and sets exit code 1. Never an endless run.
 */
export async function runBounded(
  name: string,
  budgetMs: number,
  cleanup: () => void,
  body: () => Promise<void>,
  afterChildren?: () => Promise<void>,
): Promise<void> {
  installCleanup(cleanup);
  const guard = setTimeout(() => {
    process.stderr.write(`${name}: still running after ${budgetMs / 1000} s, giving up\n`);
    void stopAll().finally(() => {
      cleanup();
      process.exit(1);
    });
  }, budgetMs);
  try {
    await body();
  } catch (err) {
    process.stderr.write(`${name} failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  } finally {
    clearTimeout(guard);
    await stopAll();
    await afterChildren?.();
    cleanup();
  }
}

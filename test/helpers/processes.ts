// Child processes of the tests (the proxy CLI, redis-server): each is tracked by its PID from spawn to
// exit, signalled by that PID only (never by name), waited for with a bound, and SIGKILLed by PID if
// it is still running when the test process exits.
import type { ChildProcess } from 'node:child_process';
import { within } from './waits.js';

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

// Children still running when this test process exits are killed by PID, never by name.
const live = new Set<number>();
let exitHookInstalled = false;

function installExitHook(): void {
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

/** Resolves with how the child exited (at once if it already has). */
export function exitOf(child: ChildProcess): Promise<Exit> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** Remembers the child's PID until it exits (killed at process exit otherwise); resolves with its exit. */
export function track(child: ChildProcess, pid: number): Promise<Exit> {
  live.add(pid);
  installExitHook();
  return exitOf(child).then((e) => {
    live.delete(pid);
    return e;
  });
}

export function running(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

/** Sends signal to the child by its PID and waits (bounded) for it to exit; SIGKILL by PID when it does not. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals, timeoutMs: number): Promise<Exit> {
  const exited = exitOf(child);
  if (running(child) && child.pid !== undefined) process.kill(child.pid, signal);
  try {
    return await within(exited, timeoutMs, `pid ${child.pid} to exit after ${signal}`);
  } catch (err) {
    if (running(child) && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    throw err;
  }
}

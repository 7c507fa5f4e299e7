// The lock that serialises `keys`/`tenants` edits of one credentials file: `<file>.lock`, created
// atomically with its owner already written in it (`link()` of a private temp file, which fails when
// the lock exists). A lock whose owner is gone (a crashed invocation) is broken at once, and only
// once: breaking the lock with token T first needs `<lock>.break-T`, created exclusively, and the
// lock is removed only if it still holds T. So two invocations that both find the same stale lock
// cannot both remove it and then each hold a lock of their own (the age-only check did exactly that).
// Waiters take turns (`<lock>.next`, see acquireLock), so none is starved by an invocation that edits
// in a loop.
import { closeSync, linkSync, openSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

export class LockError extends Error {
  override readonly name = 'LockError';
}

const LOCK_WAIT_MS = 10_000;
const NEXT_TURN_AFTER_MS = 200;
// An edit takes milliseconds: a lock this old was left behind, whoever wrote it (another host, a
// reused pid).
const LOCK_STALE_MS = 30_000;

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const code = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? 'error';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return code(err) === 'EPERM';
  }
}

/** `<host> <pid> <token>`: a pid is only checked on the host that wrote it. */
function isStale(content: string, mtimeMs: number): boolean {
  if (Date.now() - mtimeMs > LOCK_STALE_MS) return true;
  const [host, pid] = content.trim().split(' ');
  return host === hostname() && Number.isSafeInteger(Number(pid)) && !alive(Number(pid));
}

function read(lock: string): { content: string; mtimeMs: number } | undefined {
  try {
    return { content: readFileSync(lock, 'utf8'), mtimeMs: statSync(lock).mtimeMs };
  } catch {
    return undefined; // released meanwhile
  }
}

/** Removes the lock holding `seen`, if this invocation wins the right to; true when it did. */
export function breakStaleLock(lock: string, seen: string): boolean {
  const token = /^\S+ \d+ ([0-9a-f]+)\n$/.exec(seen)?.[1] ?? 'unowned';
  const breaker = `${lock}.break-${token}`;
  try {
    closeSync(openSync(breaker, 'wx', 0o600));
  } catch {
    return false; // another invocation is breaking it
  }
  try {
    if (read(lock)?.content !== seen) return false; // already broken, and maybe taken again
    unlinkSync(lock);
    return true;
  } finally {
    unlinkSync(breaker);
  }
}

/** Links `tmp` (holding `mine`) as `target`; false when `target` exists. */
function linkExclusive(tmp: string, target: string): boolean {
  try {
    linkSync(tmp, target);
    return true;
  } catch (err) {
    if (code(err) !== 'EEXIST') throw new LockError(`cannot create lock ${target}: ${code(err)}`);
    return false;
  }
}

/** Removes `file` if it still holds `mine` (never a lock or turn that was broken and taken by another). */
function removeIfMine(file: string, mine: string): void {
  if (read(file)?.content !== mine) return;
  try {
    unlinkSync(file);
  } catch {
    // gone already
  }
}

/** Breaks `file` when its owner is gone (breakStaleLock); true while a live owner holds it. */
function heldByLiveOwner(file: string): boolean {
  const held = read(file);
  if (!held) return false;
  return !(isStale(held.content, held.mtimeMs) && breakStaleLock(file, held.content));
}

/**
 * Takes the lock (waiting up to 10 s for a live holder); returns its release. An invocation that has
 * waited NEXT_TURN_AFTER_MS claims the next turn (`<lock>.next`, created like the lock) and the others
 * leave the free lock to it: without turns, a holder editing in a loop takes the lock again in the
 * moment it is free, every time, and a waiter polling now and then never gets it.
 */
export function acquireLock(lock: string, waitMs = LOCK_WAIT_MS): () => void {
  const mine = `${hostname()} ${process.pid} ${randomBytes(8).toString('hex')}\n`;
  const tmp = path.join(path.dirname(lock), `.${path.basename(lock)}.${randomBytes(6).toString('hex')}`);
  const turn = `${lock}.next`;
  try {
    writeFileSync(tmp, mine, { mode: 0o600 });
  } catch (err) {
    throw new LockError(`cannot create lock ${lock}: ${code(err)}`);
  }
  let myTurn = false;
  try {
    const started = Date.now();
    for (;;) {
      const othersTurn = !myTurn && heldByLiveOwner(turn);
      if (!othersTurn && linkExclusive(tmp, lock)) return () => removeIfMine(lock, mine);
      // a lock released meanwhile, or broken as stale, is tried again at once
      const retryNow = !othersTurn && !heldByLiveOwner(lock);
      if (!myTurn && !othersTurn && Date.now() - started >= NEXT_TURN_AFTER_MS) myTurn = linkExclusive(tmp, turn);
      if (Date.now() - started > waitMs) throw new LockError(`${lock} is held by another invocation (remove it if none is running)`);
      if (!retryNow) sleep(myTurn ? 5 : 20 + Math.floor(Math.random() * 30));
    }
  } finally {
    if (myTurn) removeIfMine(turn, mine);
    unlinkSync(tmp);
  }
}

// Bounded waits for tests: poll a condition (waitFor), race a promise against a timer (within), a
// latch the test opens (gate: a gated upstream or stage holds until then, no timing guesses), and a
// TCP port on 127.0.0.1 that was free a moment ago. Every wait here ends with an error naming what it
// waited for rather than hanging the test file.
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

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

// Client traffic through a rollout (SPEC §12): loops that open a fresh connection for every request
// and loops that keep one connection alive (a keep-alive agent with one socket; a pause between
// requests leaves it idle most of the time, as a load balancer's pool is), all recording every
// attempt: when it started, and how it ended (status, Connection header, §10 code and X-Request-Id,
// or the socket error's code). Bounded: each attempt has a timeout, each loop a maximum count, and
// the loops end when stop() returns true.
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from './http-client.js';

export type LoopKind = 'fresh' | 'kept';

export interface Attempt {
  readonly kind: LoopKind;
  /** which loop of its kind */
  readonly loop: number;
  /** Date.now() when the request was started, and when its answer or error came */
  readonly started: number;
  readonly ended: number;
  /** 0 when there was no answer */
  readonly status: number;
  /** the socket error's code (ECONNREFUSED…) when there was no answer, else '' */
  readonly error: string;
  readonly connectionClose: boolean;
  /** the §10 body's code, or '' */
  readonly code: string;
  readonly requestId: string;
}

export interface Traffic {
  readonly attempts: Attempt[];
  /** resolves once every loop has ended */
  readonly done: Promise<void>;
}

const MAX_ATTEMPTS = 50_000;
// A refused connection fails at once: a short pause keeps a loop from spinning on the CPU it shares.
const AFTER_ERROR_MS = 5;

function codeOf(text: string): string {
  try {
    const code = (JSON.parse(text) as Record<string, unknown>)['code'];
    return typeof code === 'string' ? code : '';
  } catch {
    return '';
  }
}

async function attempt(base: string, auth: string, kind: LoopKind, loop: number, agent: http.Agent | false): Promise<Attempt> {
  const started = Date.now();
  const path = `/v1/${kind}/${loop}`;
  try {
    const r = await request(base, { path, headers: [['Authorization', auth]], agent, timeoutMs: 5000 });
    const connectionClose = /\bclose\b/i.test(String(r.headers['connection'] ?? ''));
    const requestId = String(r.headers['x-request-id'] ?? '');
    return { kind, loop, started, ended: Date.now(), status: r.status, error: '', connectionClose, code: codeOf(r.text), requestId };
  } catch (err) {
    const error = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    return { kind, loop, started, ended: Date.now(), status: 0, error, connectionClose: false, code: '', requestId: '' };
  }
}

export interface TrafficOptions {
  readonly loops: Record<LoopKind, number>;
  /** the pause after each answer on a kept-alive connection */
  readonly keptPauseMs: number;
  readonly stop: () => boolean;
}

async function runLoop(base: string, auth: string, kind: LoopKind, loop: number, attempts: Attempt[], options: TrafficOptions): Promise<void> {
  const agent = kind === 'kept' ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : false;
  try {
    for (let i = 0; i < MAX_ATTEMPTS && !options.stop(); i++) {
      const a = await attempt(base, auth, kind, loop, agent);
      attempts.push(a);
      if (a.status === 0) await sleep(AFTER_ERROR_MS);
      else if (kind === 'kept') await sleep(options.keptPauseMs);
    }
  } finally {
    if (agent) agent.destroy();
  }
}

/** Starts `fresh` loops of one request per new connection and `kept` loops on one keep-alive connection each. */
export function startTraffic(base: string, auth: string, options: TrafficOptions): Traffic {
  const attempts: Attempt[] = [];
  const running: Array<Promise<void>> = [];
  for (const kind of ['fresh', 'kept'] as const) {
    for (let n = 0; n < options.loops[kind]; n++) running.push(runLoop(base, auth, kind, n, attempts, options));
  }
  return { attempts, done: Promise.all(running).then(() => undefined) };
}

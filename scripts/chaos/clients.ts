// The clients: N concurrent loops, each running one operation after another. An operation is a fresh
// Idempotency-Key sent again (same method, target and body) across the replicas, round robin, with
// exponential backoff and jitter as Stripe's SDK does, until a final answer or its budget runs out.
// A share of the successful operations is sent once more afterwards (a "confirmation") to check that
// the answer is still replayed: an answer lost from the store only shows on such a later retry.
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { bearer } from '../../test/helpers/credentials.js';
import { request, type Reply } from '../../test/helpers/http-client.js';
import { KEYS } from './cluster.js';

/** an operation's attempts stop after this long or this many, whichever comes first */
export const OP_BUDGET_MS = 25_000;
const MAX_ATTEMPTS = 60;
const ATTEMPT_TIMEOUT_MS = 8000;
const CONFIRM_SHARE = 0.3;

export interface Attempt {
  readonly slot: number;
  readonly start: number;
  readonly end: number;
  /** 0 for a connection error or timeout */
  readonly status: number;
  /** the §10 error code, or '' */
  readonly code: string;
  readonly replayed: boolean;
  readonly body: string;
  readonly confirmation: boolean;
}

export type Result = 'ok' | 'outcome_unknown' | 'rejected' | 'gave_up' | 'reconciled' | 'unfinished';

export interface Operation {
  readonly client: number;
  readonly tenant: string;
  readonly key: string;
  readonly start: number;
  end: number;
  readonly attempts: Attempt[];
  result: Result;
  cancelled: boolean;
}

type Verdict = 'final' | 'retry';

function verdict(a: Attempt): Verdict {
  if (a.status === 0 || a.status === 409 && a.code === 'IDEMPOTENCY_IN_PROGRESS') return 'retry';
  if (a.status === 502) return a.code === 'UPSTREAM_OUTCOME_UNKNOWN' ? 'final' : 'retry';
  if (a.status === 429 || a.status === 500 || a.status === 503) return 'retry';
  return 'final';
}

function resultOf(a: Attempt): Result {
  if (a.status >= 200 && a.status < 300) return 'ok';
  return a.status === 502 || a.status === 504 ? 'outcome_unknown' : 'rejected';
}

function codeOf(r: Reply): string {
  if (r.status < 400) return '';
  try {
    return String(r.json()['code'] ?? '');
  } catch {
    return '';
  }
}

export class Clients {
  readonly operations: Operation[] = [];
  readonly #live = new Map<Operation, Promise<void>>();
  readonly #agents: http.Agent[] = [];
  #stopping = false;
  #loops: Array<Promise<void>> = [];

  constructor(private readonly urls: readonly string[], private readonly random: () => number) {}

  start(count: number): void {
    for (let c = 0; c < count; c++) {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
      this.#agents.push(agent);
      this.#loops.push(this.#loop(c, agent));
    }
  }

  /** Stops starting operations; waits (bounded by the operation budget) for the running ones. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.race([Promise.all(this.#loops), sleep(OP_BUDGET_MS + ATTEMPT_TIMEOUT_MS)]);
    for (const op of this.operations) if (op.end === 0) op.result = 'unfinished';
    for (const agent of this.#agents) agent.destroy();
  }

  /**
   * The operator's reconciliation before acknowledging a store loss: operations begun before it stop
   * retrying (their outcome is taken from the custody service); resolves once none is sending.
   */
  async reconcile(before: number): Promise<number> {
    const stopped: Array<Promise<void>> = [];
    for (const [op, done] of this.#live) {
      if (op.start >= before) continue;
      op.cancelled = true;
      stopped.push(done);
    }
    await Promise.race([Promise.all(stopped), sleep(ATTEMPT_TIMEOUT_MS + 3000)]);
    return stopped.length;
  }

  async #loop(client: number, agent: http.Agent): Promise<void> {
    const key = KEYS[client % KEYS.length];
    if (!key) throw new Error('no client key');
    for (let seq = 0; !this.#stopping; seq++) {
      const op: Operation = {
        client, tenant: key.tenant, key: `op-${client}-${seq}-${Math.floor(this.random() * 2 ** 32).toString(36)}`,
        start: Date.now(), end: 0, attempts: [], result: 'unfinished', cancelled: false,
      };
      this.operations.push(op);
      const done = this.#operation(op, agent, bearer(key));
      this.#live.set(op, done);
      await done;
      this.#live.delete(op);
      op.end = Date.now();
    }
  }

  async #operation(op: Operation, agent: http.Agent, auth: string): Promise<void> {
    const body = JSON.stringify({ amount: 1 + Math.floor(this.random() * 1000), key: op.key });
    op.result = await this.#untilFinal(op, agent, auth, body, false);
    if (op.result !== 'ok' || this.random() >= CONFIRM_SHARE || this.#stopping) return;
    await sleep(Math.floor(this.random() * 2000));
    // The confirmation's own result only matters through its attempts (classify.ts reads them).
    await this.#untilFinal(op, agent, auth, body, true);
  }

  async #untilFinal(op: Operation, agent: http.Agent, auth: string, body: string, confirmation: boolean): Promise<Result> {
    const deadline = Date.now() + OP_BUDGET_MS;
    let slot = Math.floor(this.random() * this.urls.length);
    for (let n = 0; n < MAX_ATTEMPTS; n++) {
      if (op.cancelled) return 'reconciled';
      const a = await this.#attempt(op, agent, auth, body, slot, confirmation);
      op.attempts.push(a);
      if (verdict(a) === 'final') return resultOf(a);
      if (Date.now() > deadline) break;
      slot = (slot + 1) % this.urls.length;
      // Exponential backoff with full jitter on its upper half: 100 ms doubling, at most 2 s.
      await sleep(Math.min(2000, 100 * 2 ** n) * (0.5 + this.random() / 2));
    }
    return 'gave_up';
  }

  async #attempt(op: Operation, agent: http.Agent, auth: string, body: string, slot: number, confirmation: boolean): Promise<Attempt> {
    const start = Date.now();
    const url = this.urls[slot] ?? '';
    try {
      const r = await request(url, {
        method: 'POST', path: '/v1/transfers', body, agent, timeoutMs: ATTEMPT_TIMEOUT_MS,
        headers: [['Authorization', auth], ['Content-Type', 'application/json'], ['Idempotency-Key', op.key]],
      });
      return { slot, start, end: Date.now(), status: r.status, code: codeOf(r), replayed: r.headers['idempotent-replayed'] === 'true', body: r.text, confirmation };
    } catch {
      return { slot, start, end: Date.now(), status: 0, code: '', replayed: false, body: '', confirmation };
    }
  }
}

// The second half of a keyed request (SPEC §9): a claimed record's exchange with the upstream, its
// lease kept alive meanwhile, and the record completed (stored answer or outcome unknown) or released
// from how the exchange ended. The client gets the end of its response only after the first attempt to
// settle the record, so a duplicate sent after it finds the record settled. An attempt the store
// failed is retried in the background until it lands, the lease held all along, so duplicates get
// 409 meanwhile and never an answer lost to a store stall (SPEC §9 rev 2).
import type { Logger } from '../telemetry/logger.js';
import type { RequestContext } from '../pipeline/context.js';
import { answerFailure } from './plain-terminal.js';
import type { ForwardOutcome, Forwarder } from '../forward/forwarder.js';
import type { LateAnswer, LateAnswerOptions } from '../forward/late-answer.js';
import { toStoredResponse } from '../idempotency/replay.js';
import type { LeaseKeeper } from '../idempotency/lease-keeper.js';
import type { Completion, IdempotencyStore } from '../idempotency/store.js';
import type { IdempotencyOutcome, StoreEvent } from '../telemetry/metric-labels.js';

/** Upstream answers that say "not done, try again": the key is released, not stored. */
const RELEASING_STATUSES = new Set([408, 429, 503]);

export interface ClaimedDeps {
  readonly store: IdempotencyStore;
  readonly forwarder: Forwarder;
  readonly leases: LeaseKeeper;
  /** ttlMs, the record's lifetime, also bounds how long settling is retried; lateResponseWindowMs 0: no late answers */
  readonly settings: { readonly maxResponseBytes: number; readonly ttlMs: number; readonly lateResponseWindowMs: number };
  readonly logger: Logger;
  /** the request's own outcome (custody_proxy_idempotency_total), once per keyed request */
  readonly count: (outcome: IdempotencyOutcome) => void;
  /** what the store did besides (custody_proxy_idempotency_store_events_total) */
  readonly event: (event: StoreEvent) => void;
}

/** The record a request owns: released or completed with `token`. */
export interface OwnedRecord {
  readonly tenant: string;
  readonly key: string;
  readonly token: string;
}

/** What the exchange's outcome means for the record; the failure (if any) is answered here. */
interface Ending {
  readonly completion: Completion | undefined;
  readonly finish: (() => void) | undefined;
  /** the request never reached the upstream: the key was released */
  readonly released: boolean;
}

/** What an upstream answer leaves in the record; undefined: the key is released. */
function completionOf(answer: LateAnswer): Completion | undefined {
  if (RELEASING_STATUSES.has(answer.status)) return undefined;
  return answer.body
    ? { kind: 'response', response: toStoredResponse(answer.status, answer.headers, answer.body) }
    : { kind: 'response_unavailable' };
}

function endingOf(ctx: RequestContext, outcome: ForwardOutcome): Ending {
  if (outcome.kind === 'response') return { completion: completionOf(outcome), finish: outcome.finish, released: false };
  answerFailure(ctx, outcome);
  const { sent, code } = outcome.failure;
  if (!sent) return { completion: undefined, finish: undefined, released: true };
  const unknown: Completion = { kind: 'outcome_unknown', code: code === 'UPSTREAM_TIMEOUT' ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_OUTCOME_UNKNOWN' };
  return { completion: unknown, finish: undefined, released: false };
}

type Settled = 'stored' | 'released' | 'not_stored';

async function settleRecord(store: IdempotencyStore, r: OwnedRecord, completion: Completion | undefined): Promise<Settled> {
  if (!completion) {
    await store.release(r.tenant, r.key, r.token);
    return 'released';
  }
  // Refused when the store no longer holds this claim: it lost its records (or the ttl passed).
  return (await store.complete(r.tenant, r.key, r.token, completion)) ? 'stored' : 'not_stored';
}

/** Counts a settled record: the request's outcome, or a store event (and a warning) when the store refused it. */
function countSettled(d: ClaimedDeps, requestId: string, result: Settled): void {
  if (result !== 'not_stored') {
    d.count(result);
    return;
  }
  d.event('not_stored');
  d.logger.warn({ requestId }, 'idempotency record not stored: the store no longer holds its claim (records lost or expired); a retry may execute again');
}

/** Retries after a failed settle: quick at first (a blip), then every 2 s. */
const RETRY_MS = [100, 250, 500, 1000, 2000];

/**
 * Runs `settle` in the background until the store takes it, the record's ttl has passed, or the store
 * says this owner no longer holds it; `letGo` (the lease) is called only then, `counted` once it lands.
 */
function settleLater<R>(d: ClaimedDeps, requestId: string, settle: () => Promise<R>, letGo: () => void, counted: (result: R) => void): void {
  const until = Date.now() + d.settings.ttlMs;
  let attempt = 0;
  const retry = (): void => {
    settle().then(
      (result) => {
        letGo();
        counted(result);
        d.logger.info({ requestId, attempts: attempt + 1 }, 'idempotency record settled after the store failed');
      },
      () => {
        d.event('settle_failed');
        attempt++;
        if (Date.now() < until) {
          setTimeout(retry, RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)]).unref();
          return;
        }
        letGo();
        d.event('settle_abandoned');
        d.logger.error({ requestId }, 'idempotency record not settled within its ttl; duplicates see the outcome as unknown');
      },
    );
  };
  setTimeout(retry, RETRY_MS[0]).unref();
}

/** The upstream answered after the 504: its answer replaces the stored timeout (SPEC §9 rev 2). */
function lateAnswers(d: ClaimedDeps, requestId: string, r: OwnedRecord): LateAnswerOptions | undefined {
  const windowMs = d.settings.lateResponseWindowMs;
  if (windowMs <= 0) return undefined;
  const answered = (answer: LateAnswer): void => {
    const completion = completionOf(answer);
    const settle = async (): Promise<StoreEvent> => {
      const took = await d.store.completeLate(r.tenant, r.key, r.token, completion);
      d.logger.info({ requestId, status: answer.status, stored: took }, took
        ? 'late upstream answer stored in place of the timeout'
        : 'late upstream answer not stored: the record expired or changed');
      return took ? (completion ? 'late_stored' : 'late_released') : 'late_dropped';
    };
    settle().then(d.event, () => {
      d.event('settle_failed');
      settleLater(d, requestId, settle, () => {}, d.event);
    });
  };
  return { windowMs, answered };
}

/** Forwards the claimed request (its body re-sent from memory), then settles the record, then ends the response. */
export async function forwardClaimed(d: ClaimedDeps, ctx: RequestContext, record: OwnedRecord, body: Buffer): Promise<void> {
  // The body is re-sent from memory with an exact length; the client's framing no longer applies.
  const headers = ctx.req.headers;
  // `delete` turns the header object into a slow dictionary for every later reader: only when needed.
  if (headers['transfer-encoding'] !== undefined) delete headers['transfer-encoding'];
  headers['content-length'] = String(body.length);
  const letGo = d.leases.hold(record.tenant, record.key, record.token);
  let ending: Ending | undefined;
  try {
    const late = lateAnswers(d, ctx.requestId, record);
    ending = endingOf(ctx, await d.forwarder.forward(ctx, { detached: true, body, captureBytes: d.settings.maxResponseBytes, late }));
  } finally {
    const completion = ending?.completion;
    const settled = await settleRecord(d.store, record, completion).then(
      (result) => {
        countSettled(d, ctx.requestId, result);
        return true;
      },
      () => {
        d.event('settle_failed');
        d.logger.warn({ requestId: ctx.requestId }, 'idempotency record not settled; retrying while holding the lease (duplicates get 409)');
        return false;
      },
    );
    if (settled) letGo();
    else settleLater(d, ctx.requestId, () => settleRecord(d.store, record, completion), letGo, (result) => countSettled(d, ctx.requestId, result));
    ending?.finish?.();
    if (ending?.released) ctx.reason = ctx.reason ?? 'released';
  }
}

// The terminal step for keyed methods (SPEC §9): parse the key, read the body within
// maxRequestBytes, claim (tenant, key) atomically BEFORE forwarding, then complete or release the
// record from how the exchange ended. Raises 400 INVALID_IDEMPOTENCY_KEY / IDEMPOTENCY_KEY_REQUIRED,
// 409 IDEMPOTENCY_IN_PROGRESS / IDEMPOTENCY_RESPONSE_UNAVAILABLE, 413, 422 IDEMPOTENCY_CONFLICT,
// 502 UPSTREAM_OUTCOME_UNKNOWN (owner lost), 503 IDEMPOTENCY_STORE_UNAVAILABLE.
import { ProxyError } from '../errors.js';
import type { Logger } from '../telemetry/logger.js';
import { countIdempotency, type Metrics } from '../telemetry/metrics.js';
import { continueBody, type RequestContext } from '../pipeline/context.js';
import type { Terminal } from '../pipeline/handler.js';
import { sendLocal } from '../pipeline/reply.js';
import { answerFailure } from './plain-terminal.js';
import type { Forwarder } from '../forward/forwarder.js';
import { readBody, refuseDeclaredLength } from '../idempotency/body-reader.js';
import { makeFingerprint } from '../idempotency/fingerprint.js';
import { parseIdempotencyKey } from '../idempotency/key-parse.js';
import { REPLAYED, toStoredResponse } from '../idempotency/replay.js';
import { LeaseKeeper } from '../idempotency/lease-keeper.js';
import { StoreUnavailableError, type Completion, type IdempotencyStore } from '../idempotency/store.js';

export interface IdempotencySettings {
  readonly methods: readonly string[];
  readonly required: boolean;
  readonly ttlMs: number;
  readonly leaseMs: number;
  readonly maxRequestBytes: number;
  readonly maxResponseBytes: number;
}

/** Upstream answers that say "not done, try again": the key is released, not stored. */
const RELEASING_STATUSES = new Set([408, 429, 503]);

export function idempotencyTerminal(
  settings: IdempotencySettings,
  store: IdempotencyStore,
  forwarder: Forwarder,
  plain: Terminal,
  logger: Logger,
  metrics: Metrics,
): Terminal {
  const methods = new Set(settings.methods);
  const count = (outcome: string): void => countIdempotency(metrics, outcome);
  const leases = new LeaseKeeper(store, settings.leaseMs, () => count('store_error'));
  const claimOptions = { ttlMs: settings.ttlMs, leaseMs: settings.leaseMs };
  const storeDown = (err: unknown): never => {
    count('store_error');
    if (err instanceof StoreUnavailableError) throw new ProxyError('IDEMPOTENCY_STORE_UNAVAILABLE', 'store_unavailable', 1);
    throw err;
  };

  const keyed = async (ctx: RequestContext): Promise<void> => {
    const method = ctx.req.method ?? '';
    const parsed = parseIdempotencyKey(ctx.idempotencyKeyLines);
    if (parsed.kind === 'invalid') throw new ProxyError('INVALID_IDEMPOTENCY_KEY');
    if (parsed.kind === 'absent') {
      if (settings.required) throw new ProxyError('IDEMPOTENCY_KEY_REQUIRED');
      return plain(ctx);
    }
    const tenant = ctx.credential?.tenant.id;
    if (tenant === undefined) throw new ProxyError('UNAUTHORIZED', 'no_tenant');
    refuseDeclaredLength(ctx.req, settings.maxRequestBytes);
    continueBody(ctx);
    const body = await readBody(ctx.req, settings.maxRequestBytes);
    const fingerprint = makeFingerprint(method, ctx.target, body);
    // No deadline is added here: every store answers or fails closed within its own (SPEC §9: 1 s).
    const claim = await store.claim(tenant, parsed.key, fingerprint, claimOptions).catch(storeDown);

    switch (claim.kind) {
      case 'conflict':
        count('conflict');
        throw new ProxyError('IDEMPOTENCY_CONFLICT');
      case 'in_progress':
        count('in_progress');
        throw new ProxyError('IDEMPOTENCY_IN_PROGRESS', undefined, 1);
      case 'owner_lost':
        count('owner_lost');
        throw new ProxyError('UPSTREAM_OUTCOME_UNKNOWN', 'owner_lost');
      case 'completed':
        return replay(ctx, claim.completion, count);
      case 'claimed':
        break;
    }

    // The body is re-sent from memory with an exact length; the client's framing no longer applies.
    const headers = ctx.req.headers;
    // `delete` turns the header object into a slow dictionary for every later reader: only when needed.
    if (headers['transfer-encoding'] !== undefined) delete headers['transfer-encoding'];
    headers['content-length'] = String(body.length);
    const token = claim.token;
    const letGo = leases.hold(tenant, parsed.key, token);
    let completion: Completion | undefined;
    let failedEarly = false;
    let finish: (() => void) | undefined;
    try {
      const outcome = await forwarder.forward(ctx, { detached: true, body, captureBytes: settings.maxResponseBytes });
      if (outcome.kind === 'response') {
        finish = outcome.finish;
        if (!RELEASING_STATUSES.has(outcome.status)) {
          completion = outcome.body
            ? { kind: 'response', response: toStoredResponse(outcome.status, outcome.headers, outcome.body) }
            : { kind: 'response_unavailable' };
        }
      } else {
        failedEarly = !outcome.failure.sent;
        if (outcome.failure.sent) {
          completion = {
            kind: 'outcome_unknown',
            code: outcome.failure.code === 'UPSTREAM_TIMEOUT' ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_OUTCOME_UNKNOWN',
          };
        }
        answerFailure(ctx, outcome);
      }
    } finally {
      letGo();
      await settleRecord(store, tenant, parsed.key, token, completion).then(
        (result) => count(result),
        (err: unknown) => {
          count('store_error');
          logger.error({ requestId: ctx.requestId, err: String(err) }, 'idempotency record not settled; duplicates will see the outcome as unknown after the lease');
        },
      );
      // Only now does the client get the end of its response: a duplicate sent after it finds the record settled.
      finish?.();
      if (failedEarly) ctx.reason = ctx.reason ?? 'released';
    }
  };
  // Methods that are never deduplicated go straight to forwarding, without an extra async frame.
  return (ctx) => (methods.has(ctx.req.method ?? '') ? keyed(ctx) : plain(ctx));
}

async function settleRecord(
  store: IdempotencyStore,
  tenant: string,
  key: string,
  token: string,
  completion: Completion | undefined,
): Promise<string> {
  if (!completion) {
    await store.release(tenant, key, token);
    return 'released';
  }
  await store.complete(tenant, key, token, completion);
  return 'stored';
}

function replay(ctx: RequestContext, completion: Completion, count: (o: string) => void): void {
  switch (completion.kind) {
    case 'response':
      count('replayed');
      ctx.outcome = 'replayed';
      sendLocal(ctx, completion.response, REPLAYED);
      return;
    case 'response_unavailable':
      count('response_unavailable');
      throw new ProxyError('IDEMPOTENCY_RESPONSE_UNAVAILABLE');
    case 'outcome_unknown':
      count('replayed');
      throw new ProxyError(completion.code, 'replayed_outcome');
  }
}

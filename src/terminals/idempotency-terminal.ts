// The terminal step for keyed methods (SPEC §9): parse the key, read the body within
// maxRequestBytes, claim (tenant, key) atomically BEFORE forwarding, then either answer from the
// existing record or forward and settle it (claimed-exchange.ts). Raises 400 INVALID_IDEMPOTENCY_KEY / IDEMPOTENCY_KEY_REQUIRED,
// 409 IDEMPOTENCY_IN_PROGRESS / IDEMPOTENCY_RESPONSE_UNAVAILABLE, 413, 422 IDEMPOTENCY_CONFLICT,
// 502 UPSTREAM_OUTCOME_UNKNOWN (owner lost), 503 IDEMPOTENCY_STORE_UNAVAILABLE.
import { ProxyError } from '../errors.js';
import type { Logger } from '../telemetry/logger.js';
import { countIdempotency, countStoreEvent, type Metrics } from '../telemetry/metrics.js';
import type { IdempotencyOutcome, StoreEvent } from '../telemetry/metric-labels.js';
import { continueBody, type RequestContext } from '../pipeline/context.js';
import type { Terminal } from '../pipeline/handler.js';
import { sendLocal } from '../pipeline/reply.js';
import { forwardClaimed, type ClaimedDeps } from './claimed-exchange.js';
import type { Forwarder } from '../forward/forwarder.js';
import { readBody, refuseDeclaredLength } from '../idempotency/body-reader.js';
import { makeFingerprint } from '../idempotency/fingerprint.js';
import { parseIdempotencyKey } from '../idempotency/key-parse.js';
import { REPLAYED } from '../idempotency/replay.js';
import { LeaseKeeper } from '../idempotency/lease-keeper.js';
import { StoreUnavailableError, type ClaimOptions, type ClaimResult, type Completion, type IdempotencyStore } from '../idempotency/store.js';

export interface IdempotencySettings {
  readonly methods: readonly string[];
  readonly required: boolean;
  readonly ttlMs: number;
  readonly leaseMs: number;
  readonly maxRequestBytes: number;
  readonly maxResponseBytes: number;
  /** after a 504, how long the upstream's late answer is still stored; 0: not at all */
  readonly lateResponseWindowMs: number;
}

export function idempotencyTerminal(
  settings: IdempotencySettings,
  store: IdempotencyStore,
  forwarder: Forwarder,
  plain: Terminal,
  logger: Logger,
  metrics: Metrics,
): Terminal {
  const count = (outcome: IdempotencyOutcome): void => countIdempotency(metrics, outcome);
  const event = (e: StoreEvent): void => countStoreEvent(metrics, e);
  const d: KeyedDeps = {
    settings,
    store,
    forwarder,
    plain,
    logger,
    count,
    event,
    leases: new LeaseKeeper(store, settings.leaseMs, () => event('lease_renewal_failed')),
    claimOptions: { ttlMs: settings.ttlMs, leaseMs: settings.leaseMs },
    storeDown: (err) => {
      count('store_error');
      if (err instanceof StoreUnavailableError) throw new ProxyError('IDEMPOTENCY_STORE_UNAVAILABLE', 'store_unavailable', 1);
      throw err;
    },
  };
  const methods = new Set(settings.methods);
  // Methods that are never deduplicated go straight to forwarding, without an extra async frame.
  return (ctx) => (methods.has(ctx.req.method ?? '') ? keyed(d, ctx) : plain(ctx));
}

interface KeyedDeps extends ClaimedDeps {
  readonly settings: IdempotencySettings;
  readonly plain: Terminal;
  readonly claimOptions: ClaimOptions;
  /** a store call failed: 503 when the store is unavailable (made once, not per request) */
  readonly storeDown: (err: unknown) => never;
}

async function keyed(d: KeyedDeps, ctx: RequestContext): Promise<void> {
  const parsed = parseIdempotencyKey(ctx.idempotencyKeyLines);
  if (parsed.kind === 'invalid') throw new ProxyError('INVALID_IDEMPOTENCY_KEY');
  if (parsed.kind === 'absent') {
    if (d.settings.required) throw new ProxyError('IDEMPOTENCY_KEY_REQUIRED');
    return d.plain(ctx);
  }
  const tenant = ctx.credential?.tenant.id;
  if (tenant === undefined) throw new ProxyError('UNAUTHORIZED', 'no_tenant');
  const max = d.settings.maxRequestBytes;
  refuseDeclaredLength(ctx.req, max);
  continueBody(ctx);
  const body = await readBody(ctx.req, max);
  const fingerprint = makeFingerprint(ctx.req.method ?? '', ctx.target, body);
  // No deadline is added here: every store answers or fails closed within its own (SPEC §9: 1 s).
  const claim = await d.store.claim(tenant, parsed.key, fingerprint, d.claimOptions).catch(d.storeDown);
  if (claim.kind !== 'claimed') return answerExisting(d, ctx, claim);
  await forwardClaimed(d, ctx, { tenant, key: parsed.key, token: claim.token }, body);
}

/** A record exists (or conflicts): refuse, or replay what it stored. */
function answerExisting(d: KeyedDeps, ctx: RequestContext, claim: Exclude<ClaimResult, { kind: 'claimed' }>): void {
  switch (claim.kind) {
    case 'conflict':
      d.count('conflict');
      throw new ProxyError('IDEMPOTENCY_CONFLICT');
    case 'in_progress':
      d.count('in_progress');
      throw new ProxyError('IDEMPOTENCY_IN_PROGRESS', undefined, 1);
    case 'owner_lost':
      d.count('owner_lost');
      throw new ProxyError('UPSTREAM_OUTCOME_UNKNOWN', 'owner_lost');
    case 'completed':
      return replay(ctx, claim.completion, d.count);
  }
}

function replay(ctx: RequestContext, completion: Completion, count: (o: IdempotencyOutcome) => void): void {
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
      // A replay too (SPEC §9 rev 2): labelled, so a client stops retrying and reconciles instead.
      count('replayed');
      ctx.res.setHeader('idempotent-replayed', 'true');
      throw new ProxyError(completion.code, 'replayed_outcome');
  }
}

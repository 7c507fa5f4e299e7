// The idempotency store contract (SPEC §9). One interface, two implementations (memory-store.ts,
// redis-store.ts), one shared contract test suite (test/contract/). Stages depend on this file only.
// Records are per (tenant, key); the key is the client's Idempotency-Key after parsing.

/** What a record remembers of the first request: a mismatch on any field is a 422 conflict. */
export interface Fingerprint {
  readonly method: string;
  /** path + query as the client sent it */
  readonly target: string;
  /** lowercase hex SHA-256 of the request body bytes */
  readonly bodySha256: string;
}

/** A completed upstream response as it will be replayed. */
export interface StoredResponse {
  readonly status: number;
  /** flat [name, value] pairs, names lowercase, already stripped of what is never replayed */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Buffer;
}

/** How a claimed request ended, given by its owner. */
export type Completion =
  /** the upstream answered and the whole response was captured */
  | { readonly kind: 'response'; readonly response: StoredResponse }
  /** the upstream answered but the body was larger than maxResponseBytes: duplicates get 409 */
  | { readonly kind: 'response_unavailable' }
  /** the request was sent but no answer is known (timeout or reset after sending): never re-executed */
  | { readonly kind: 'outcome_unknown'; readonly code: 'UPSTREAM_TIMEOUT' | 'UPSTREAM_OUTCOME_UNKNOWN' };

export type ClaimResult =
  /** this caller owns the record and must forward, then complete() or release() with the token */
  | { readonly kind: 'claimed'; readonly token: string }
  /** the fingerprint differs from the record's: nothing was changed */
  | { readonly kind: 'conflict' }
  /** another owner holds the record and its lease is alive */
  | { readonly kind: 'in_progress' }
  /** in flight, but its owner's lease expired (owner died): never re-executed */
  | { readonly kind: 'owner_lost' }
  /** completed earlier */
  | { readonly kind: 'completed'; readonly completion: Completion };

export interface ClaimOptions {
  /** record lifetime, counted from the first request (the claim) */
  readonly ttlMs: number;
  /** how long the owner's lease lives unless renewed */
  readonly leaseMs: number;
}

/**
 * Every method settles within the store's own deadline (SPEC §9: 1 s): a backend that cannot answer
 * in time rejects with StoreUnavailableError. The idempotency stage relies on this and adds no timer
 * of its own per call.
 */
export interface IdempotencyStore {
  /** 'memory' | 'redis', for logs and readiness */
  readonly kind: string;
  /** Atomically: create an in-flight record owned by a new token, or report what exists. */
  claim(tenant: string, key: string, fingerprint: Fingerprint, options: ClaimOptions): Promise<ClaimResult>;
  /** Extend the owner's lease; false when the token no longer owns an in-flight record. */
  renewLease(tenant: string, key: string, token: string, leaseMs: number): Promise<boolean>;
  /** Store the outcome, keeping the record's original expiry; false when the token is not the owner. */
  complete(tenant: string, key: string, token: string, completion: Completion): Promise<boolean>;
  /**
   * A late upstream answer (SPEC §9 rev 2): replaces the outcome of this token's request that timed out
   * (`outcome_unknown` UPSTREAM_TIMEOUT), or completes it if still in flight; `undefined` (a late 408,
   * 429 or 503) deletes the record so the key can be claimed again. The record keeps its expiry. False
   * when the record is no longer this token's timeout (expired, replaced, or completed otherwise).
   */
  completeLate(tenant: string, key: string, token: string, completion: Completion | undefined): Promise<boolean>;
  /** Delete the in-flight record so the key can be claimed again; false when the token is not the owner. */
  release(tenant: string, key: string, token: string): Promise<boolean>;
  /** Resolves when the store answers; rejects otherwise (readiness). */
  ping(): Promise<void>;
  /** Acknowledges a store loss (SPEC §9 rev 2); false for a store that cannot lose its records alone. */
  ackLoss(): Promise<boolean>;
  close(): Promise<void>;
}

/** Thrown by a store when its backend cannot be reached or is too slow: the stage answers 503. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
}

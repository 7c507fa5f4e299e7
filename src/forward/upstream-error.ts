// Maps a failed upstream exchange to the §10 code. What matters for idempotency (§9) is whether the
// request may have reached the upstream: before the connection was up it certainly did not
// (UPSTREAM_UNAVAILABLE, safe to retry); after, the outcome is unknown.
import type { ErrorCode } from '../errors.js';

export const UPSTREAM_TIMEOUT = 'CUSTODY_UPSTREAM_TIMEOUT';
export const CONNECT_TIMEOUT = 'CUSTODY_CONNECT_TIMEOUT';

export class UpstreamTimeoutError extends Error {
  constructor(readonly code: typeof UPSTREAM_TIMEOUT | typeof CONNECT_TIMEOUT) {
    super(code);
  }
}

export interface UpstreamFailure {
  readonly code: Extract<ErrorCode, 'UPSTREAM_UNAVAILABLE' | 'UPSTREAM_OUTCOME_UNKNOWN' | 'UPSTREAM_TIMEOUT'>;
  /** the request may have reached the upstream */
  readonly sent: boolean;
  /** the low-level error code, for logs */
  readonly reason: string;
}

export function classifyUpstreamError(err: unknown, connected: boolean): UpstreamFailure {
  const reason = (err as NodeJS.ErrnoException | undefined)?.code ?? 'error';
  if (reason === CONNECT_TIMEOUT || !connected) return { code: 'UPSTREAM_UNAVAILABLE', sent: false, reason };
  if (reason === UPSTREAM_TIMEOUT) return { code: 'UPSTREAM_TIMEOUT', sent: true, reason };
  return { code: 'UPSTREAM_OUTCOME_UNKNOWN', sent: true, reason };
}

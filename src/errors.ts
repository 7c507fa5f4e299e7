// The error catalogue (SPEC §10): every response the proxy itself produces has one of these codes.
// A stage rejects a request by throwing a ProxyError; the reply writer turns it into the §10 body.
// Messages are fixed per code so they can never echo the client IP, a key id or which check failed.

export const ERROR_CATALOGUE = {
  BAD_REQUEST: { status: 400, message: 'malformed request' },
  INVALID_IDEMPOTENCY_KEY: { status: 400, message: 'invalid Idempotency-Key header' },
  IDEMPOTENCY_KEY_REQUIRED: { status: 400, message: 'Idempotency-Key header required' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  FORBIDDEN: { status: 403, message: 'access denied' },
  IDEMPOTENCY_IN_PROGRESS: { status: 409, message: 'a request with this Idempotency-Key is in progress' },
  IDEMPOTENCY_RESPONSE_UNAVAILABLE: { status: 409, message: 'the original response to this Idempotency-Key cannot be replayed' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'request body too large' },
  IDEMPOTENCY_CONFLICT: { status: 422, message: 'Idempotency-Key reused with a different method, path or body' },
  RATE_LIMITED: { status: 429, message: 'too many requests' },
  UPSTREAM_UNAVAILABLE: { status: 502, message: 'upstream unavailable' },
  UPSTREAM_OUTCOME_UNKNOWN: { status: 502, message: 'upstream outcome unknown' },
  SERVICE_UNAVAILABLE: { status: 503, message: 'service unavailable' },
  IDEMPOTENCY_STORE_UNAVAILABLE: { status: 503, message: 'idempotency store unavailable' },
  UPSTREAM_TIMEOUT: { status: 504, message: 'upstream timeout' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/**
 * Codes only the admin listener answers with (SPEC §11 rev 2: admin errors use the §10 body; §10 has
 * no codes for these). The proxy listener never sends them: an unknown path there is forwarded.
 */
export const ADMIN_ERROR_CATALOGUE = {
  NOT_FOUND: { status: 404, message: 'not found' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'method not allowed' },
  RELOAD_REFUSED: { status: 422, message: 'credentials document refused; the last good one stays in force' },
  INTERNAL_ERROR: { status: 500, message: 'internal error' },
  RELOAD_FAILED: { status: 502, message: 'credentials source could not be read; the last good document stays in force' },
} as const satisfies Record<string, { status: number; message: string }>;

/** What the admin listener may answer: its own codes and those of §10 that apply to it. */
export type AdminErrorCode = keyof typeof ADMIN_ERROR_CATALOGUE | 'UNAUTHORIZED' | 'IDEMPOTENCY_STORE_UNAVAILABLE';

const ADMIN_ANSWERS = { ...ERROR_CATALOGUE, ...ADMIN_ERROR_CATALOGUE };

export function adminError(code: AdminErrorCode): { readonly status: number; readonly message: string } {
  return ADMIN_ANSWERS[code];
}

export class ProxyError extends Error {
  override readonly name = 'ProxyError';
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    /** for logs and metrics only, never sent to the client */
    readonly reason?: string,
    /** seconds, for 409/429/503 */
    readonly retryAfter?: number,
    /** a status other than the code's own: 431 for too many header lines (body code BAD_REQUEST) */
    status?: number,
    /** more response header fields (429's RateLimit-Policy and RateLimit), lower-case names */
    readonly headers?: Readonly<Record<string, string>>,
  ) {
    super(code);
    this.status = status ?? ERROR_CATALOGUE[code].status;
  }
}

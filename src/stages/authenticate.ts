// Authentication (SPEC §5): exactly one `Authorization: Bearer <keyId>:<secret>`, a constant-time
// secret check, then the credential's lifecycle. Raises 401 UNAUTHORIZED; every rejection is the same
// response, the reason only reaches logs and metrics.
// Reads: ctx.authorizationLines, req.headers.authorization, ctx.snapshot.
// Writes: ctx.knownKeyId (once the key id exists), ctx.credential (when accepted).
import { ProxyError } from '../errors.js';
import { secretMatches } from '../credentials/secret-hash.js';
import type { Credential } from '../credentials/snapshot.js';
import type { RequestContext } from '../pipeline/context.js';
import { bearerTokenStart } from '../net/authorization.js';

/** Every reason a rejection can carry: custody_proxy_auth_failures_total exports each from start. */
export const AUTH_FAILURES = [
  'missing',
  'duplicate',
  'malformed',
  'unknown_key',
  'bad_secret',
  'provisioned',
  'revoked',
  'grace_expired',
  'expired',
  'no_credentials',
] as const;

export type AuthFailure = (typeof AUTH_FAILURES)[number];

/** Why a credential whose secret matched is still refused at `now`, or undefined when accepted. */
export function lifecycleFailure(c: Credential, now: number): AuthFailure | undefined {
  if (c.expiresAt !== undefined && now >= c.expiresAt) return 'expired';
  switch (c.status) {
    case 'active':
      return undefined;
    case 'rotated':
      return c.graceUntil !== undefined && now < c.graceUntil ? undefined : 'grace_expired';
    case 'provisioned':
      return 'provisioned';
    case 'revoked':
      return 'revoked';
  }
}

function reject(reason: AuthFailure): never {
  throw new ProxyError('UNAUTHORIZED', reason);
}

export function authenticate(ctx: RequestContext): void {
  if (ctx.authorizationLines === 0) reject('missing');
  if (ctx.authorizationLines > 1) reject('duplicate');
  const header = ctx.req.headers.authorization ?? '';
  const start = bearerTokenStart(header);
  if (start < 0) reject('malformed');
  const token = header.slice(start);
  const colon = token.indexOf(':');
  if (colon <= 0 || colon === token.length - 1) reject('malformed');
  const keyId = token.slice(0, colon);
  const secret = token.slice(colon + 1);
  const credential = ctx.snapshot?.byKeyId.get(keyId);
  // The comparison runs whether or not the key id exists (a dummy digest stands in).
  const matches = secretMatches(secret, credential?.digest);
  if (!ctx.snapshot) reject('no_credentials');
  if (!credential) reject('unknown_key');
  ctx.knownKeyId = keyId;
  if (!matches) reject('bad_secret');
  const failure = lifecycleFailure(credential, Date.now());
  if (failure) reject(failure);
  ctx.credential = credential;
}

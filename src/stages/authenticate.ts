// Authentication (SPEC §5): exactly one `Authorization: Bearer <keyId>:<secret>`, a constant-time
// secret check, then the credential's lifecycle; on a proxy pinned to one environment (SPEC §5 rev 2),
// only key ids of that environment. Raises 401 UNAUTHORIZED; every rejection is the same response, the
// reason only reaches logs and metrics.
// Reads: ctx.authorizationLines, req.headers.authorization, ctx.snapshot.
// Writes: ctx.knownKeyId (once the key id exists), ctx.credential and credential.lastUse (when accepted).
import { ProxyError } from '../errors.js';
import { secretMatches } from '../credentials/secret-hash.js';
import type { Credential } from '../credentials/snapshot.js';
import type { RequestContext } from '../pipeline/context.js';
import { bearerTokenStart } from '../net/authorization.js';
import { requiredPrefix, type Environment } from '../credentials/key-environment.js';

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
  'environment',
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

/** The stage of a proxy that accepts keys of every environment (`environment: any`). */
export function authenticate(ctx: RequestContext): void {
  verify(ctx, undefined);
}

/**
 * The stage for a proxy of `environment` (SPEC §5 rev 2): key ids without its prefix are refused with
 * reason `environment`. The prefix is checked before the secret's hash: it is in the request itself, so
 * an early refusal tells the client nothing it did not send, and it does not depend on whether the key
 * id exists, so unknown ids and wrong secrets of the right environment stay indistinguishable (both
 * still run the constant-time compare). A string prefix test: no allocation per request.
 */
export function authenticateIn(environment: Environment): (ctx: RequestContext) => void {
  const prefix = requiredPrefix(environment);
  return prefix === undefined ? authenticate : (ctx) => verify(ctx, prefix);
}

function wrongEnvironment(ctx: RequestContext, keyId: string): never {
  // Logged only when the document holds the id (as for a wrong secret), so the operator sees which key
  // is used in the wrong place; an arbitrary string from a client never reaches the log.
  if (ctx.snapshot?.byKeyId.has(keyId)) ctx.knownKeyId = keyId;
  reject('environment');
}

/** `prefix`: what every key id must start with here (undefined: any id). */
function verify(ctx: RequestContext, prefix: string | undefined): void {
  if (ctx.authorizationLines === 0) reject('missing');
  if (ctx.authorizationLines > 1) reject('duplicate');
  const header = ctx.req.headers.authorization ?? '';
  const start = bearerTokenStart(header);
  if (start < 0) reject('malformed');
  const token = header.slice(start);
  const colon = token.indexOf(':');
  if (colon <= 0 || colon === token.length - 1) reject('malformed');
  const keyId = token.slice(0, colon);
  if (prefix !== undefined && !keyId.startsWith(prefix)) wrongEnvironment(ctx, keyId);
  const secret = token.slice(colon + 1);
  const credential = ctx.snapshot?.byKeyId.get(keyId);
  // The comparison runs whether or not the key id exists (a dummy digest stands in).
  const matches = secretMatches(secret, credential?.digest);
  if (!ctx.snapshot) reject('no_credentials');
  if (!credential) reject('unknown_key');
  ctx.knownKeyId = keyId;
  if (!matches) reject('bad_secret');
  const now = Date.now();
  const failure = lifecycleFailure(credential, now);
  if (failure) reject(failure);
  ctx.credential = credential;
  credential.lastUse.at = now; // one number store: /admin/credentials reads it (lastUsedAt)
}

// Failed-authentication throttling (SPEC §13 `rateLimits.failedAuth`): at most `limit` failed
// authentications per client IP within `window` reach authentication; once they are used up, every
// request from that IP gets 429 RATE_LIMITED (reason failed_auth) before authentication, until the
// bucket allows one again. A success does not reset it. Wraps authenticate to count its 401s.
// Reads: ctx.clientIp. Writes: nothing (authenticate writes what it always does).
import { ProxyError } from '../errors.js';
import { makeBucket, type Bucket } from '../ratelimit/bucket.js';
import type { Limiter } from '../ratelimit/limiter.js';
import type { RequestContext } from '../pipeline/context.js';
import type { Stage } from '../pipeline/handler.js';
import { refuse, type StoreErrorPolicy } from './rate-limit.js';

export interface FailedAuthRule {
  readonly limit: number;
  readonly window: number;
}

/**
 * One bucket per client IP. Clients whose IP is unknown (an unparsable X-Forwarded-For from a trusted
 * proxy) share one bucket: garbage in that header must not buy an attacker a fresh bucket per request.
 */
function bucketOf(rule: FailedAuthRule, ctx: RequestContext): Bucket {
  const ip = ctx.clientIp?.text ?? 'unknown';
  return makeBucket('failed_auth', `fa:{${ip}}`, { limit: rule.limit, window: rule.window, burst: rule.limit });
}

/** A 401 that is the client's doing; `no_credentials` (no document loaded yet) is the proxy's. */
function countsAsFailure(err: unknown): boolean {
  return err instanceof ProxyError && err.code === 'UNAUTHORIZED' && err.reason !== 'no_credentials';
}

/** [the check before authentication, authenticate counting its failures]. */
export function failedAuthStages(limiter: Limiter, rule: FailedAuthRule, onStoreError: StoreErrorPolicy, authenticate: Stage): [Stage, Stage] {
  const check: Stage = (ctx) => {
    const verdict = limiter.peek(bucketOf(rule, ctx));
    if (verdict === undefined) return;
    if (verdict instanceof Promise) return verdict.then((v) => v && refuse(v), onStoreError);
    refuse(verdict);
  };
  const record = (ctx: RequestContext, err: unknown): never => {
    if (countsAsFailure(err)) {
      // Not awaited: the 401 goes out now; a store that fails here is counted and the failure uncounted.
      const charged = limiter.add(bucketOf(rule, ctx));
      if (charged instanceof Promise) charged.catch((e: unknown) => { try { onStoreError(e); } catch { /* the 401 stands */ } });
    }
    throw err;
  };
  const counted: Stage = (ctx) => {
    let pending: void | Promise<void> = undefined;
    try {
      pending = authenticate(ctx);
    } catch (err) {
      record(ctx, err);
    }
    return pending?.catch((err: unknown) => record(ctx, err));
  };
  return [check, counted];
}

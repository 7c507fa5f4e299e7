// `rateLimit: { limit, window, burst? }` as written in the credentials document (SPEC §4 rev 2) and
// `rateLimits.failedAuth: { limit, window }` in the proxy config (SPEC §3): positive integers and a
// duration greater than 0, each problem reported with its path and the value found.
import { z } from 'zod';
import { parseDuration } from '../config/units.js';
import { showValue } from '../config/problems.js';
import { parsedString, positiveDurationMeta } from '../config/value-forms.js';

// formatIssues adds the value found ("(got 0)").
const POSITIVE = 'must be a positive integer';
const count = z.number({ error: POSITIVE }).int({ error: POSITIVE }).positive({ error: POSITIVE });

export const windowDuration = parsedString(
  (text) => {
    const ms = parseDuration(text);
    return ms !== undefined && ms > 0 ? ms : undefined;
  },
  (text) => `invalid window ${showValue(text)} (a duration greater than 0, e.g. 1s, 1m, 1h)`,
  positiveDurationMeta,
  z.string({ error: 'must be a duration such as 1s, 1m or 1h' }),
);

/** A tenant's or a credential's limit: `limit` requests per `window`, bucket of `burst` (default limit). */
export const rateLimitSchema = z.strictObject({
  limit: count.describe('Requests per window.'),
  window: windowDuration.describe('The period limit counts over, e.g. 1s or 1m.'),
  burst: count.optional().describe('Bucket size: requests allowed at once (default limit).'),
});

/** rateLimits.failedAuth: more than `limit` failed authentications per client IP within `window`. */
export const failedAuthSchema = z.strictObject({
  limit: count.describe('Failed authentications per window.'),
  window: windowDuration.describe('The period limit counts over, e.g. 1m.'),
});

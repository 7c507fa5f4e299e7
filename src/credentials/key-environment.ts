// Key environments (SPEC §3, §5 rev 2; the guide: "maintain distinct credentials for development,
// staging, and production to limit blast radius"). A key id names its environment by its prefix,
// `ck_live_` or `ck_test_`, as `keys create --env` writes it. A proxy pinned to one environment accepts
// only ids with its own prefix: a `live` proxy refuses `ck_test_…` and a `test` proxy `ck_live_…`, as
// SPEC says, and both also refuse ids with neither prefix (older ids), whose environment is unknown:
// failing closed is the point of pinning. `any` accepts every id.
import type { Logger } from '../telemetry/logger.js';
import type { CredentialsSnapshot } from './snapshot.js';

export type Environment = 'live' | 'test' | 'any';

const PREFIX = { live: 'ck_live_', test: 'ck_test_' } as const;

/** The prefix every key id must start with on a proxy of `environment`; undefined for `any`. */
export function requiredPrefix(environment: Environment): string | undefined {
  return environment === 'any' ? undefined : PREFIX[environment];
}

/** The key ids, in their order, that a proxy of `environment` refuses (none for `any`). */
export function keysOutsideEnvironment(keyIds: Iterable<string>, environment: Environment): string[] {
  const prefix = requiredPrefix(environment);
  const out: string[] = [];
  if (prefix === undefined) return out;
  for (const id of keyIds) if (!id.startsWith(prefix)) out.push(id);
  return out;
}

// A document may list hundreds of keys: the warning names the first few, and counts them all.
const LISTED_AT_MOST = 20;

/**
 * The warning for a document that holds keys this proxy refuses (SPEC §5 rev 2: it loads, with a
 * warning): one line per applied document, naming the key ids (not secrets) and their count.
 */
export function warnOutsideEnvironment(snapshot: CredentialsSnapshot, environment: Environment, logger: Logger): void {
  const outside = keysOutsideEnvironment(snapshot.byKeyId.keys(), environment);
  if (outside.length === 0) return;
  logger.warn(
    { environment, count: outside.length, keyIds: outside.slice(0, LISTED_AT_MOST) },
    `credentials document holds keys of another environment: this ${environment} proxy refuses them (401)`,
  );
}

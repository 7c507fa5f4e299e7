// Key environments (SPEC §3, §5 rev 2; the guide: "maintain distinct credentials for development,
// staging, and production to limit blast radius"). A key id names its environment by its prefix,
// `ck_live_` or `ck_test_`, as `keys create --env` writes it. A proxy pinned to one environment accepts
// only ids with its own prefix: a `live` proxy refuses `ck_test_…` and a `test` proxy `ck_live_…`, as
// SPEC says, and both also refuse ids with neither prefix (older ids), whose environment is unknown:
// failing closed is the point of pinning. `any` accepts every id.

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

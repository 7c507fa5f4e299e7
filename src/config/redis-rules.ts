// The rules of `idempotency.redis` that span its keys (SPEC §3, §9 rev 2), checked on the raw section
// and, as far as a draft-07 schema can say them, given to editors (REDIS_RULES_META): exactly one
// topology; name exactly with sentinels; the login and TLS keys only where they are used. A single
// server takes its user, password and TLS from its URL, so those keys there would be a second, silently
// ignored place for them: an error that says where they go. Messages never show a password or a URL
// (which may hold one).
import { showValue } from './problems.js';

const TOPOLOGY_KEYS = ['url', 'sentinels', 'cluster'] as const;
/** keys only Sentinel and Cluster take (a URL carries them), with where they go for one server */
const URL_CARRIED = {
  username: 'the user in the url (redis://user:password@host:6379)',
  password: 'the password in the url (redis://user:password@host:6379, or redis://:password@host:6379)',
  tls: 'a rediss:// url',
} as const;
const SENTINEL_ONLY = ['sentinelUsername', 'sentinelPassword'] as const;
const PAIRS = [['username', 'password'], ['sentinelUsername', 'sentinelPassword']] as const;

const AT = 'idempotency.redis';

/** Problems of the raw `idempotency.redis` section that span its keys (`path: message`). */
export function topologyProblems(raw: unknown): string[] {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return [];
  const section = raw as Record<string, unknown>;
  const has = (k: string): boolean => section[k] !== undefined;
  const given = TOPOLOGY_KEYS.filter(has);
  const problems: string[] = [];
  if (given.length > 1) {
    problems.push(`${AT}: set only one of url (one server), sentinels (Sentinel) or cluster (Cluster), not ${given.join(' and ')}`);
  }
  if (has('sentinels') && !has('name')) {
    problems.push(`${AT}.name: required with sentinels (the master's name in the Sentinel config, e.g. mymaster)`);
  }
  if (has('name') && !has('sentinels')) {
    problems.push(`${AT}.name: only used with sentinels (got ${showValue(section['name'])})`);
  }
  return [...problems, ...loginProblems(has, section)];
}

function loginProblems(has: (k: string) => boolean, section: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const oneServer = !has('sentinels') && !has('cluster');
  for (const [key, instead] of Object.entries(URL_CARRIED)) {
    if (oneServer && has(key)) problems.push(`${AT}.${key}: only with sentinels or cluster; for one server (url) use ${instead}`);
  }
  for (const key of SENTINEL_ONLY) {
    if (has(key) && !has('sentinels')) problems.push(`${AT}.${key}: only with sentinels (the sentinels' own login)`);
  }
  for (const [user, password] of PAIRS) {
    if (has(user) && !has(password)) problems.push(`${AT}.${password}: required with ${user} (an ACL user logs in with its password)`);
  }
  if (has('caFile')) {
    const tls = oneServer ? typeof section['url'] === 'string' && section['url'].startsWith('rediss://') : section['tls'] === true;
    if (!tls) problems.push(`${AT}.caFile: only used with TLS: tls: true (Sentinel, Cluster) or a rediss:// url (one server)`);
  }
  return problems;
}

const noneOf = (...keys: string[]): object => ({ not: { anyOf: keys.map((k) => ({ required: [k] })) } });
const forbidden = (keys: readonly string[]): object => ({ properties: Object.fromEntries(keys.map((k) => [k, false])) });

/** topologyProblems' rules as JSON Schema keywords on the section, for editors (caFile's is left to the proxy). */
export const REDIS_RULES_META = {
  not: { anyOf: [{ required: ['url', 'sentinels'] }, { required: ['url', 'cluster'] }, { required: ['sentinels', 'cluster'] }] },
  dependencies: { sentinels: ['name'], name: ['sentinels'], username: ['password'], sentinelUsername: ['sentinelPassword'] },
  allOf: [
    { if: noneOf('sentinels', 'cluster'), then: forbidden(Object.keys(URL_CARRIED)) },
    { if: noneOf('sentinels'), then: forbidden(SENTINEL_ONLY) },
  ],
};

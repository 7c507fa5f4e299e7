// `idempotency.redis` (SPEC §3, §9 rev 2): which Redis the store talks to, one of a single server
// (`url`), Sentinel (`sentinels` + `name`) or Cluster (`cluster`), plus `keyPrefix` and
// `waitReplicas`. The parsed value names only the topology in use, so the store never guesses.
// "Exactly one topology" is a whole-section rule checked on the input (topologyProblems), like
// credentials.file/url: zod skips object refinements once any field fails, and a bad sibling value
// must not hide it.
import { z } from 'zod';
import { LISTEN, parseListen } from './listen.js';
import { showValue } from './problems.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** A Sentinel or Cluster node; port 0 (which a listen address allows) is not an address to dial. */
const node = z.string().transform((text, ctx) => {
  const addr = parseListen(text);
  if (!addr || addr.port === 0) {
    ctx.addIssue({ code: 'custom', message: `invalid Redis node ${showValue(text)} (use host:port)` });
    return z.NEVER;
  }
  return addr;
}).meta({ pattern: LISTEN.source, patternErrorMessage: 'host:port of a Redis node' });

export const redisSchema = z
  .strictObject({
    url: z.string().regex(/^rediss?:\/\//, { message: 'must be a redis:// or rediss:// URL' }).optional()
      .describe(`One Redis server (default ${DEFAULT_REDIS_URL}); not with sentinels or cluster.`),
    sentinels: z.array(node).min(1).optional().describe('Sentinel nodes (host:port), with name.'),
    name: z.string().min(1).optional().describe('The master\'s name in the Sentinel config (e.g. mymaster); only with sentinels.'),
    cluster: z.array(node).min(1).optional().describe('Redis Cluster nodes (host:port) to start from.'),
    keyPrefix: z.string().prefault('custody-proxy:').describe('Prefix of every key the proxy writes.'),
    waitReplicas: z.number().int().min(0).default(0)
      .describe('A claim (and a settle) waits until this many replicas have it (WAIT), else keyed 503; 0: no WAIT.'),
  })
  // topologyProblems' rules, for editors: at most one topology; name exactly when sentinels.
  .meta({
    description: 'The Redis the store (and a redis rate-limit store) uses: url, sentinels + name, or cluster.',
    not: { anyOf: [{ required: ['url', 'sentinels'] }, { required: ['url', 'cluster'] }, { required: ['sentinels', 'cluster'] }] },
    dependencies: { sentinels: ['name'], name: ['sentinels'] },
  })
  .transform(({ url, sentinels, name, cluster, keyPrefix, waitReplicas }) => {
    const common = { keyPrefix, waitReplicas };
    // topologyProblems has already refused more than one of them, and sentinels without a name.
    if (sentinels) return { sentinels, name: name ?? '', ...common };
    if (cluster) return { cluster, ...common };
    return { url: url ?? DEFAULT_REDIS_URL, ...common };
  })
  .prefault({});

const TOPOLOGY_KEYS = ['url', 'sentinels', 'cluster'] as const;

/** Problems of the raw `idempotency.redis` section that span its keys (`path: message`). */
export function topologyProblems(raw: unknown): string[] {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return [];
  const section = raw as Record<string, unknown>;
  const at = 'idempotency.redis';
  const given = TOPOLOGY_KEYS.filter((k) => section[k] !== undefined);
  const problems: string[] = [];
  if (given.length > 1) {
    problems.push(`${at}: set only one of url (one server), sentinels (Sentinel) or cluster (Cluster), not ${given.join(' and ')}`);
  }
  if (section['sentinels'] !== undefined && section['name'] === undefined) {
    problems.push(`${at}.name: required with sentinels (the master's name in the Sentinel config, e.g. mymaster)`);
  }
  if (section['name'] !== undefined && section['sentinels'] === undefined) {
    problems.push(`${at}.name: only used with sentinels (got ${showValue(section['name'])})`);
  }
  return problems;
}

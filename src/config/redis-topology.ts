// `idempotency.redis` (SPEC §3, §9 rev 2): which Redis the store talks to, one of a single server
// (`url`), Sentinel (`sentinels` + `name`) or Cluster (`cluster`), plus `keyPrefix` and
// `waitReplicas`. The parsed value names only the topology in use, so the store never guesses.
// "Exactly one topology" is a whole-section rule checked on the input (topologyProblems), like
// credentials.file/url: zod skips object refinements once any field fails, and a bad sibling value
// must not hide it.
import { z } from 'zod';
import { parseListen } from './listen.js';
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
});

export const redisSchema = z
  .strictObject({
    url: z.string().regex(/^rediss?:\/\//, { message: 'must be a redis:// or rediss:// URL' }).optional(),
    sentinels: z.array(node).min(1).optional(),
    name: z.string().min(1).optional(),
    cluster: z.array(node).min(1).optional(),
    keyPrefix: z.string().prefault('custody-proxy:'),
    // WAIT for this many replicas after a claim (and a settle) before going on; 0: no WAIT.
    waitReplicas: z.number().int().min(0).default(0),
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

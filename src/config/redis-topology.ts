// `idempotency.redis` (SPEC §3, §9 rev 2): which Redis the store talks to, one of a single server
// (`url`), Sentinel (`sentinels` + `name`) or Cluster (`cluster`), plus `keyPrefix` and
// `waitReplicas`, and for Sentinel and Cluster how to log in and whether to speak TLS (a single
// server's URL already carries both: redis://user:password@host, rediss://). The parsed value names
// only the topology in use, so the store never guesses. Rules that span keys are checked on the input
// (redis-rules.ts), like credentials.file/url: zod skips object refinements once any field fails, and
// a bad sibling value must not hide them.
import { z } from 'zod';
import { LISTEN, parseListen } from './listen.js';
import { showValue } from './problems.js';
import { parsedString } from './value-forms.js';
import { REDIS_RULES_META } from './redis-rules.js';

export { topologyProblems } from './redis-rules.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** A Sentinel or Cluster node; port 0 (which a listen address allows) is not an address to dial. */
const node = parsedString(
  (text) => {
    const addr = parseListen(text);
    return addr && addr.port !== 0 ? addr : undefined;
  },
  (text) => `invalid Redis node ${showValue(text)} (use host:port)`,
  { pattern: LISTEN.source, patternErrorMessage: 'host:port of a Redis node' },
);

const secret = z.string().min(1).optional();

export const redisSchema = z
  .strictObject({
    url: z.string().regex(/^rediss?:\/\//, { message: 'must be a redis:// or rediss:// URL' }).optional()
      .describe(`One Redis server (default ${DEFAULT_REDIS_URL}); not with sentinels or cluster. User and password go in it (redis://user:password@host:6379), rediss:// for TLS.`),
    sentinels: z.array(node).min(1).optional().describe('Sentinel nodes (host:port), with name.'),
    name: z.string().min(1).optional().describe('The master\'s name in the Sentinel config (e.g. mymaster); only with sentinels.'),
    cluster: z.array(node).min(1).optional().describe('Redis Cluster nodes (host:port) to start from.'),
    username: z.string().min(1).optional()
      .describe('Sentinel or Cluster: the ACL user the data nodes are logged in as (with password); without it, the default user.'),
    password: secret
      .describe('Sentinel or Cluster: the data nodes\' password (requirepass, or the ACL user\'s); give it as "${VAR}". One server: in the url.'),
    sentinelUsername: z.string().min(1).optional()
      .describe('Sentinel: the ACL user the sentinels are logged in as (with sentinelPassword).'),
    sentinelPassword: secret
      .describe('Sentinel: the sentinels\' own password (their requirepass), when they have one; give it as "${VAR}".'),
    tls: z.boolean().default(false)
      .describe('Sentinel or Cluster: TLS to every node (data nodes and sentinels). One server: use a rediss:// url.'),
    caFile: z.string().min(1).optional()
      .describe('PEM CA bundle the Redis certificates must chain to, instead of the system roots; with tls: true or a rediss:// url. Relative to this file\'s folder; read at start.'),
    keyPrefix: z.string().prefault('custody-proxy:').describe('Prefix of every key the proxy writes.'),
    waitReplicas: z.number().int().min(0).default(0)
      .describe('A claim (and a settle) waits until this many replicas have it (WAIT), else keyed 503; 0: no WAIT.'),
  })
  .meta({ description: 'The Redis the store (and a redis rate-limit store) uses: url, sentinels + name, or cluster.', ...REDIS_RULES_META })
  .transform((r) => {
    const common = { keyPrefix: r.keyPrefix, waitReplicas: r.waitReplicas };
    // Only what was given: a parsed section (and what `check` or a test prints of it) carries no empty keys.
    const login = defined({ username: r.username, password: r.password, tls: r.tls || undefined, caFile: r.caFile });
    // topologyProblems has already refused more than one topology, sentinels without a name, and
    // login keys the topology does not take.
    if (r.sentinels) {
      const sentinelLogin = defined({ sentinelUsername: r.sentinelUsername, sentinelPassword: r.sentinelPassword });
      return { sentinels: r.sentinels, name: r.name ?? '', ...login, ...sentinelLogin, ...common };
    }
    if (r.cluster) return { cluster: r.cluster, ...login, ...common };
    return { url: r.url ?? DEFAULT_REDIS_URL, ...defined({ caFile: r.caFile }), ...common };
  })
  .prefault({});

function defined<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}

export type RedisConfig = z.output<typeof redisSchema>;

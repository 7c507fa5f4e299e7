// The proxy config schema (SPEC §3) as zod types: defaults, unknown keys rejected, durations and sizes
// converted to numbers. zod rather than hand-written checks: it reports every problem with its path in
// one pass, and the parsed result is typed from the same declaration.
import { z } from 'zod';
import { cidr, duration, httpUrl, listen, method, positiveDuration, size } from './value-forms.js';
import { redisSchema } from './redis-topology.js';
import { failedAuthSchema } from '../ratelimit/rate-limit-schema.js';


// SPEC §12 rev 2: TLS 1.0 and 1.1 are deprecated (RFC 8996) and refused here, not merely defaulted away.
const tlsVersion = z.enum(['TLSv1.2', 'TLSv1.3'], { message: 'must be TLSv1.2 or TLSv1.3 (TLSv1 and TLSv1.1 are refused)' });

export const configSchema = z.strictObject({
  listen: listen.prefault('0.0.0.0:8080').describe('Client traffic: host:port.'),
  // SPEC §3 rev 2: the client listener over TLS; both PEM files are watched and re-read (tls/).
  tls: z
    .strictObject({
      certFile: z.string().min(1).describe('PEM certificate (chain) of the client listener, relative to this file\'s folder; re-read when it changes.'),
      keyFile: z.string().min(1).describe('PEM private key matching certFile (no passphrase), relative to this file\'s folder; re-read when it changes.'),
      minVersion: tlsVersion.prefault('TLSv1.2').describe('Lowest TLS version accepted: TLSv1.2 or TLSv1.3.'),
    })
    .optional()
    .describe('Serve the client listener over HTTPS (SPEC §12); absent: plain HTTP.'),
  // SPEC §5 rev 2; the key-id rule is in credentials/key-environment.ts.
  environment: z.enum(['live', 'test', 'any']).prefault('any')
    .describe('live refuses ck_test_ keys, test refuses ck_live_ keys (401); any accepts both.'),
  browserRequests: z.enum(['refuse', 'allow']).prefault('refuse')
    .describe('refuse: a request with Origin, or Sec-Fetch-Mode cors, navigate or no-cors, gets 403 before authentication, without CORS headers.'),
  admin: z
    .strictObject({
      listen: listen.prefault('0.0.0.0:9090').describe('The admin listener: /healthz /readyz /metrics /admin/*.'),
      tokenFile: z.string().min(1).optional()
        .describe('File holding the Bearer token for /admin/*; without it /admin/* is disabled. Relative to this file\'s folder.'),
    })
    .describe('The admin listener (SPEC §11).')
    .prefault({}),
  upstream: z
    .strictObject({
      url: httpUrl.prefault('http://127.0.0.1:3000').describe('The custody service.'),
      timeout: positiveDuration.prefault('30s').describe('The whole upstream response; then 504 UPSTREAM_TIMEOUT.'),
      connectTimeout: positiveDuration.prefault('5s').describe('Connecting to the upstream; then 502 UPSTREAM_UNAVAILABLE.'),
      caFile: z.string().min(1).optional()
        .describe('PEM CA bundle trusted for an https:// upstream instead of the system roots, relative to this file\'s folder; read at start. Not with an http:// upstream.'),
    })
    .describe('The custody service behind the proxy.')
    .prefault({}),
  // prefault (an input, parsed) rather than default: an input schema leaves out a transformed type's default.
  trustedProxies: z.array(cidr).nullable().prefault([])
    .describe('CIDRs whose X-Forwarded-For is believed (SPEC §6); null or [] believes no one.'),
  credentials: z
    .strictObject({
      file: z.string().min(1).optional()
        .describe('The credentials document, relative to this file\'s folder (default credentials.yaml); watched and hot reloaded. Not with url.'),
      url: httpUrl.optional().describe('The control endpoint serving the credentials document, instead of file (SPEC §8).'),
      pollInterval: positiveDuration.prefault('10s').describe('How often url is polled.'),
      tokenFile: z.string().min(1).optional().describe('File holding the Bearer token sent to url.'),
      // SPEC §8 rev 2 (the custody guide: rotate every 90 days).
      expiryWarning: positiveDuration.prefault('7d').describe('Usable keys expiring within this are logged (warn) and counted.'),
      maxAge: positiveDuration.prefault('90d').describe('Active keys whose createdAt is older than this are due for rotation.'),
    })
    .meta({ description: 'Where the credentials document comes from: file or url, not both.', not: { required: ['file', 'url'] } })
    .prefault({}),
  idempotency: z
    .strictObject({
      store: z.enum(['memory', 'redis']).prefault('memory').describe('memory: one replica; redis: shared by replicas.'),
      redis: redisSchema,
      ttl: positiveDuration.prefault('24h').describe('How long a completed record is replayed.'),
      lease: positiveDuration.prefault('10s')
        .describe('How long a dead owner\'s in-flight record blocks retries, which then get 502 OUTCOME_UNKNOWN.'),
      lateResponseWindow: duration.prefault('5m')
        .describe('After a 504, how long the upstream\'s late answer still replaces the stored timeout (SPEC §9); 0s: never.'),
      onStoreLoss: z.enum(['refuse', 'continue']).prefault('refuse')
        .describe('After a detected store loss: refuse (keyed 503 until custody-proxy store ack-loss) or continue.'),
      methods: z.array(method).default(['POST', 'PUT', 'PATCH']).describe('Methods whose Idempotency-Key is honoured.'),
      required: z.boolean().default(false).describe('true: a keyed method without Idempotency-Key gets 400.'),
      maxRequestBytes: size.prefault('1MiB').describe('Largest keyed request body; larger gets 413.'),
      maxResponseBytes: size.prefault('1MiB').describe('Largest upstream response stored for replay.'),
      memory: z
        .strictObject({
          maxEntries: z.number().int().positive().default(100_000).describe('Most records held.'),
          minTenantShare: z.number().int().positive().default(1000)
            .describe('Records each tenant keeps however busy the others are (SPEC §9).'),
          maxBytes: size.refine((n) => n >= 1024, { message: 'must be at least 1KiB' }).prefault('256MiB')
            .describe('Most bytes held, at least 1KiB.'),
        })
        .describe('The memory store\'s bounds (SPEC §9).')
        .prefault({}),
    })
    .describe('Idempotent writes (SPEC §9): requests with an Idempotency-Key are executed once and replayed.')
    .prefault({}),
  // SPEC §13: the limits themselves are in the credentials document.
  rateLimits: z
    .strictObject({
      store: z.enum(['memory', 'redis']).prefault('memory')
        .describe('memory: per replica; redis: shared, through idempotency.redis and its keyPrefix.'),
      failedAuth: failedAuthSchema.nullable().prefault(null)
        .describe('null: off; { limit, window }: failed authentications allowed per client IP, then 429.'),
      onStoreError: z.enum(['allow', 'deny']).prefault('allow')
        .describe('Redis down or slow: allow (pass unlimited) or deny (503).'),
    })
    .describe('Rate limits (SPEC §13).')
    .prefault({}),
  logging: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).prefault('info')
        .describe('Least severe level written.'),
    })
    .describe('Logs: JSON lines on stdout.')
    .prefault({}),
  server: z
    .strictObject({
      headersTimeout: positiveDuration.prefault('15s').describe('Receiving a request\'s header block.'),
      requestTimeout: positiveDuration.prefault('60s').describe('Receiving a whole request.'),
      keepAliveTimeout: positiveDuration.prefault('65s').describe('An idle keep-alive connection stays open this long.'),
      maxHeaderSize: size.prefault('16KiB').describe('Larger header blocks get 431.'),
      // Above 1000 Node itself drops header lines silently (SPEC §7), which this bound exists to prevent.
      maxHeaderCount: z.number().int().min(1).max(1000).default(100).describe('More header lines get 431 (SPEC §7).'),
    })
    .describe('Client listener limits.')
    .prefault({}),
  drainDelay: duration.prefault('5s')
    .describe('SIGTERM: readiness turns 503 at once and the listener keeps serving this long, then stops accepting; 0s: at once.'),
  shutdownTimeout: positiveDuration.prefault('25s').describe('Then in-flight requests get this long to finish.'),
});

export type ParsedConfig = z.output<typeof configSchema>;

// The proxy config schema (SPEC §3) as zod types: defaults, unknown keys rejected, durations and sizes
// converted to numbers. zod rather than hand-written checks: it reports every problem with its path in
// one pass, and the parsed result is typed from the same declaration.
import { z } from 'zod';
import { parseDuration, parseSize } from './units.js';
import { parseListen } from './listen.js';
import { parseCidr } from '../net/ip-match.js';
import { showValue } from './problems.js';
import { redisSchema } from './redis-topology.js';
import { failedAuthSchema } from '../ratelimit/rate-limit-schema.js';


const duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `invalid duration ${showValue(text)} (use e.g. 500ms, 30s, 5m, 24h, 7d)` });
    return z.NEVER;
  }
  return ms;
});

const positiveDuration = duration.refine((ms) => ms > 0, { message: 'must be greater than 0' });

const size = z.string().transform((text, ctx) => {
  const bytes = parseSize(text);
  if (bytes === undefined || bytes <= 0) {
    ctx.addIssue({ code: 'custom', message: `invalid size ${showValue(text)} (use e.g. 512KiB, 1MiB)` });
    return z.NEVER;
  }
  return bytes;
});

const listen = z.string().transform((text, ctx) => {
  const addr = parseListen(text);
  if (!addr) {
    ctx.addIssue({ code: 'custom', message: `invalid listen address ${showValue(text)} (use host:port)` });
    return z.NEVER;
  }
  return addr;
});

const httpUrl = z.string().transform((text, ctx) => {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash) {
    ctx.addIssue({ code: 'custom', message: `invalid URL ${showValue(text)} (http:// or https://, no query)` });
    return z.NEVER;
  }
  return url;
});

const cidr = z.string().transform((text, ctx) => {
  const range = parseCidr(text);
  if (!range) {
    ctx.addIssue({ code: 'custom', message: `invalid IP address or CIDR ${showValue(text)}` });
    return z.NEVER;
  }
  return text;
});

const method = z.string().regex(/^[A-Z]+$/, { message: 'must be an upper-case HTTP method' });

// SPEC §12 rev 2: TLS 1.0 and 1.1 are deprecated (RFC 8996) and refused here, not merely defaulted away.
const tlsVersion = z.enum(['TLSv1.2', 'TLSv1.3'], { message: 'must be TLSv1.2 or TLSv1.3 (TLSv1 and TLSv1.1 are refused)' });

export const configSchema = z.strictObject({
  listen: listen.prefault('0.0.0.0:8080'),
  // SPEC §3 rev 2: the client listener over TLS; both PEM files are watched and re-read (tls/).
  tls: z
    .strictObject({
      certFile: z.string().min(1),
      keyFile: z.string().min(1),
      minVersion: tlsVersion.default('TLSv1.2'),
    })
    .optional(),
  // SPEC §5 rev 2: which keys this proxy accepts (live refuses ck_test_ ids, test ck_live_ ids; see
  // credentials/key-environment.ts), and whether requests a browser made are refused before authentication.
  environment: z.enum(['live', 'test', 'any']).prefault('any'),
  browserRequests: z.enum(['refuse', 'allow']).prefault('refuse'),
  admin: z
    .strictObject({
      listen: listen.prefault('0.0.0.0:9090'),
      tokenFile: z.string().min(1).optional(),
    })
    .prefault({}),
  upstream: z
    .strictObject({
      url: httpUrl.prefault('http://127.0.0.1:3000'),
      timeout: positiveDuration.prefault('30s'),
      connectTimeout: positiveDuration.prefault('5s'),
      // PEM CA bundle trusted for an https:// upstream INSTEAD of the system roots (load.ts refuses it with http://).
      caFile: z.string().min(1).optional(),
    })
    .prefault({}),
  trustedProxies: z.array(cidr).nullable().default([]),
  credentials: z
    .strictObject({
      file: z.string().min(1).optional(),
      url: httpUrl.optional(),
      pollInterval: positiveDuration.prefault('10s'),
      tokenFile: z.string().min(1).optional(),
      // SPEC §8 rev 2: usable keys expiring within expiryWarning, and active keys created more than
      // maxAge ago (the custody guide: rotate every 90 days), are logged and counted at load and hourly.
      expiryWarning: positiveDuration.prefault('7d'),
      maxAge: positiveDuration.prefault('90d'),
    })
    .prefault({}),
  idempotency: z
    .strictObject({
      store: z.enum(['memory', 'redis']).prefault('memory'),
      redis: redisSchema,
      ttl: positiveDuration.prefault('24h'),
      // How long a dead owner's in-flight record blocks duplicates before they get 502 OUTCOME_UNKNOWN.
      lease: positiveDuration.prefault('10s'),
      // After a 504, how long the upstream's late answer is still stored in place of the timeout (SPEC §9 rev 2); 0s: never.
      lateResponseWindow: duration.prefault('5m'),
      // What a detected store loss does to keyed requests (SPEC §9 rev 2): refuse (503 until acknowledged) or continue.
      onStoreLoss: z.enum(['refuse', 'continue']).prefault('refuse'),
      methods: z.array(method).default(['POST', 'PUT', 'PATCH']),
      required: z.boolean().default(false),
      maxRequestBytes: size.prefault('1MiB'),
      maxResponseBytes: size.prefault('1MiB'),
      memory: z
        .strictObject({
          maxEntries: z.number().int().positive().default(100_000),
          minTenantShare: z.number().int().positive().default(1000),
          maxBytes: size.refine((n) => n >= 1024, { message: 'must be at least 1KiB' }).prefault('256MiB'),
        })
        .prefault({}),
    })
    .prefault({}),
  // SPEC §13: the limits themselves are in the credentials document; a redis store uses idempotency.redis.
  rateLimits: z
    .strictObject({
      store: z.enum(['memory', 'redis']).prefault('memory'),
      failedAuth: failedAuthSchema.nullable().default(null),
      onStoreError: z.enum(['allow', 'deny']).prefault('allow'),
    })
    .prefault({}),
  logging: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).prefault('info'),
    })
    .prefault({}),
  server: z
    .strictObject({
      headersTimeout: positiveDuration.prefault('15s'),
      requestTimeout: positiveDuration.prefault('60s'),
      keepAliveTimeout: positiveDuration.prefault('65s'),
      maxHeaderSize: size.prefault('16KiB'),
      // Above 1000 Node itself drops header lines silently (SPEC §7), which this bound exists to prevent.
      maxHeaderCount: z.number().int().min(1).max(1000).default(100),
    })
    .prefault({}),
  // SIGTERM (SPEC §12 rev 2): how long the listener keeps serving normally while load balancers see
  // readiness turn 503; then it stops accepting. 0s: stop accepting at once.
  drainDelay: duration.prefault('5s'),
  shutdownTimeout: positiveDuration.prefault('25s'),
});

export type ParsedConfig = z.output<typeof configSchema>;

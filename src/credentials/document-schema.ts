// The credentials document schema (SPEC §4): tenants with allowlists, credentials with hashed secrets,
// lifecycle status and optional permissions. Cross-entry rules (unique ids, existing tenant, rotated
// needs graceUntil) are checked here too, so one pass reports every problem in the document.
import { z } from 'zod';
import { parseCidr } from '../net/ip-match.js';
import { SECRET_HASH_PATTERN } from './secret-hash.js';
import { PATH_PATTERN_PROBLEM, pathPatternProblem } from './permissions.js';
import { showValue } from '../config/problems.js';
import { rateLimitSchema } from '../ratelimit/rate-limit-schema.js';


const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:?\d{2}))?$/;

// A timestamp as written in YAML (string) or already a Date; kept as epoch milliseconds.
// Date.parse rolls 2026-02-30 over to March; a written day that does not exist is an error instead.
export function parseIsoTime(text: string): number {
  if (!ISO_TIME.test(text)) return Number.NaN;
  const [y, m, d] = text.slice(0, 10).split('-').map(Number);
  const check = new Date(Date.UTC(y ?? 0, (m ?? 1) - 1, d ?? 1));
  if (check.getUTCFullYear() !== y || check.getUTCMonth() + 1 !== m || check.getUTCDate() !== d) return Number.NaN;
  return Date.parse(text);
}

const timestamp = z.union([z.string(), z.date()]).transform((v, ctx) => {
  const ms = v instanceof Date ? v.getTime() : parseIsoTime(v);
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: `invalid timestamp ${showValue(v)} (use RFC 3339, e.g. 2026-12-01T00:00:00Z)` });
    return z.NEVER;
  }
  return ms;
});

const cidr = z.string().refine((s) => parseCidr(s) !== undefined, {
  error: (iss) => `invalid IP address or CIDR ${showValue(iss.input)}`,
});

/** One permission rule (SPEC §4); `keys create --permission` validates with it too. */
export const permissionRuleSchema = z.strictObject({
  methods: z.array(z.string().regex(/^(?:[A-Z]+|\*)$/, { message: 'must be an upper-case HTTP method or *' })).min(1),
  paths: z
    .array(
      z.string().refine((p) => pathPatternProblem(p) === undefined, {
        error: (iss) => `invalid path pattern ${showValue(iss.input)}: ${pathPatternProblem(String(iss.input)) ?? PATH_PATTERN_PROBLEM}`,
      }),
    )
    .min(1),
});

export const STATUSES = ['provisioned', 'active', 'rotated', 'revoked'] as const;
export type CredentialStatus = (typeof STATUSES)[number];

const tenant = z.strictObject({
  id: z.string().regex(/^[\x21-\x7e]{1,128}$/, { message: 'must be 1-128 visible ASCII characters' }),
  name: z.string().optional(),
  ipAllowList: z.array(cidr).nullable().optional(),
  // (rev 2) allowlist and permission denials are logged and counted, not enforced (SPEC §6)
  reportOnly: z.boolean().optional(),
  rateLimit: rateLimitSchema.nullable().optional(),
});

const credential = z.strictObject({
  keyId: z.string().regex(/^[\x21-\x39\x3b-\x7e]{1,128}$/, {
    message: 'must be 1-128 visible ASCII characters without ":"',
  }),
  tenant: z.string().min(1),
  status: z.enum(STATUSES),
  secretHash: z.string().regex(SECRET_HASH_PATTERN, { message: 'must be "sha256:" and 64 lowercase hex digits' }),
  graceUntil: timestamp.optional(),
  expiresAt: timestamp.optional(),
  label: z.string().optional(),
  // (rev 2) written by `keys create`/`rotate`; maxAge (rotation due) is judged from it (SPEC §8)
  createdAt: timestamp.optional(),
  // (rev 2) narrows the tenant's list for this key: both must admit the client IP (SPEC §6)
  ipAllowList: z.array(cidr).nullable().optional(),
  permissions: z.array(permissionRuleSchema).optional(),
  rateLimit: rateLimitSchema.nullable().optional(),
});

export const documentSchema = z
  .strictObject({
    tenants: z.array(tenant),
    credentials: z.array(credential),
  });

const field = (v: unknown, k: string): unknown => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/**
 * Rules across entries (unique ids, existing tenant, rotated needs graceUntil), checked on the raw
 * input rather than in the schema: zod skips refinements once any field fails, and every problem
 * must be listed at once.
 */
export function crossEntryProblems(raw: unknown): string[] {
  const problems: string[] = [];
  const tenantIds = new Set<unknown>();
  list(field(raw, 'tenants')).forEach((t, i) => {
    const id = field(t, 'id');
    if (tenantIds.has(id)) problems.push(`tenants[${i}].id: duplicate tenant id ${showValue(id)}`);
    tenantIds.add(id);
  });
  const keyIds = new Set<unknown>();
  list(field(raw, 'credentials')).forEach((c, i) => {
    const keyId = field(c, 'keyId');
    if (keyIds.has(keyId)) problems.push(`credentials[${i}].keyId: duplicate key id ${showValue(keyId)}`);
    keyIds.add(keyId);
    const tenant = field(c, 'tenant');
    if (typeof tenant === 'string' && !tenantIds.has(tenant)) problems.push(`credentials[${i}].tenant: unknown tenant ${showValue(tenant)}`);
    if (field(c, 'status') === 'rotated' && field(c, 'graceUntil') === undefined) {
      problems.push(`credentials[${i}].graceUntil: required when status is rotated`);
    }
  });
  return problems;
}

export type CredentialsDocument = z.output<typeof documentSchema>;

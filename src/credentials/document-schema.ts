// The credentials document schema (SPEC §4): tenants with allowlists, credentials with hashed secrets,
// lifecycle status and optional permissions. Cross-entry rules (unique ids, existing tenant, rotated
// needs graceUntil) are checked here too, so one pass reports every problem in the document.
import { z } from 'zod';
import { parseCidr } from '../net/ip-match.js';
import { SECRET_HASH_PATTERN } from './secret-hash.js';
import { PATH_PATTERN_PROBLEM, pathPatternProblem } from './permissions.js';
import { showValue } from '../config/problems.js';
import { rateLimitSchema } from '../ratelimit/rate-limit-schema.js';
import { cidrMeta } from '../config/value-forms.js';


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
}).meta({
  type: 'string',
  pattern: ISO_TIME.source,
  patternErrorMessage: 'an RFC 3339 timestamp, e.g. 2026-12-01T00:00:00Z',
});

const cidr = z.string().refine((s) => parseCidr(s) !== undefined, {
  error: (iss) => `invalid IP address or CIDR ${showValue(iss.input)}`,
}).meta(cidrMeta);

// pathPatternProblem as a pattern, for editors: segments without `*`, or `*`, and `**` only last.
const PATH_PATTERN = '^/(?:(?:[^/*]*|\\*)/)*(?:[^/*]*|\\*|\\*\\*)$';
const allowList = z.array(cidr).nullable().optional();

/** One permission rule (SPEC §4); `keys create --permission` validates with it too. */
export const permissionRuleSchema = z.strictObject({
  methods: z.array(z.string().regex(/^(?:[A-Z]+|\*)$/, { message: 'must be an upper-case HTTP method or *' })).min(1)
    .describe('Upper-case HTTP methods, or * for every method.'),
  paths: z
    .array(
      z.string().refine((p) => pathPatternProblem(p) === undefined, {
        error: (iss) => `invalid path pattern ${showValue(iss.input)}: ${pathPatternProblem(String(iss.input)) ?? PATH_PATTERN_PROBLEM}`,
      }).meta({ pattern: PATH_PATTERN, patternErrorMessage: PATH_PATTERN_PROBLEM }),
    )
    .min(1)
    .describe('Canonical paths: * is one segment, ** (last only) any rest; /v1/vaults does not match /v1/vaults/*.'),
});

export const STATUSES = ['provisioned', 'active', 'rotated', 'revoked'] as const;
export type CredentialStatus = (typeof STATUSES)[number];

const tenant = z.strictObject({
  id: z.string().regex(/^[\x21-\x7e]{1,128}$/, { message: 'must be 1-128 visible ASCII characters' })
    .describe('Unique; sent to the upstream as X-Tenant-Id.'),
  name: z.string().optional().describe('For people: shown by tenants list.'),
  ipAllowList: allowList.describe('Client IPs or CIDRs allowed (SPEC §6); null or []: every IP.'),
  // (rev 2) SPEC §6
  reportOnly: z.boolean().optional()
    .describe('true: allowlist and permission denials are logged and counted, not enforced.'),
  rateLimit: rateLimitSchema.nullable().optional().describe('All keys of the tenant together (SPEC §13).'),
});

const credential = z.strictObject({
  keyId: z.string().regex(/^[\x21-\x39\x3b-\x7e]{1,128}$/, {
    message: 'must be 1-128 visible ASCII characters without ":"',
  }).describe('Unique; the part of the bearer token before the first colon (ck_live_… or ck_test_…).'),
  tenant: z.string().min(1).describe('The id of a tenant in this document.'),
  status: z.enum(STATUSES).describe('Accepted: active, and rotated until graceUntil.'),
  secretHash: z.string().regex(SECRET_HASH_PATTERN, { message: 'must be "sha256:" and 64 lowercase hex digits' })
    .describe('sha256: and the 64 lowercase hex digits of SHA-256 over the secret.'),
  graceUntil: timestamp.optional().describe('Required when status is rotated: accepted until then.'),
  expiresAt: timestamp.optional().describe('Refused from then on, whatever the status.'),
  label: z.string().optional().describe('For people: shown by keys list.'),
  // (rev 2) SPEC §8
  createdAt: timestamp.optional().describe('Written by keys create and rotate; credentials.maxAge is judged from it.'),
  // (rev 2) SPEC §6
  ipAllowList: allowList.describe('Narrows the tenant\'s list for this key: both must admit the client IP.'),
  permissions: z.array(permissionRuleSchema).optional()
    .describe('Method and path rules; absent: every method and path. Anything else gets 403.'),
  rateLimit: rateLimitSchema.nullable().optional().describe('This key alone (SPEC §13).'),
}).meta({
  // crossEntryProblems' rotated rule, for editors.
  if: { properties: { status: { const: 'rotated' } }, required: ['status'] },
  then: { required: ['graceUntil'] },
});

export const documentSchema = z
  .strictObject({
    tenants: z.array(tenant).describe('The tenants (SPEC §4), each with its IP allowlist.'),
    credentials: z.array(credential).describe('The API keys: hashed secrets, status and limits of each.'),
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

// The credentials document schema (SPEC §4): tenants with allowlists, credentials with hashed secrets,
// lifecycle status and optional permissions. Cross-entry rules (unique ids, existing tenant, rotated
// needs graceUntil) are checked here too, so one pass reports every problem in the document.
import { z } from 'zod';
import { parseCidr } from '../pipeline/ip-match.js';
import { SECRET_HASH_PATTERN } from './secret-hash.js';
import { PATH_PATTERN_PROBLEM, pathPatternProblem } from './permissions.js';

const show = (v: unknown): string => JSON.stringify(v) ?? String(v);

const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:?\d{2}))?$/;

// A timestamp as written in YAML (string) or already a Date; kept as epoch milliseconds.
const timestamp = z.union([z.string(), z.date()]).transform((v, ctx) => {
  const ms = v instanceof Date ? v.getTime() : ISO_TIME.test(v) ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: `invalid timestamp ${show(v)} (use RFC 3339, e.g. 2026-12-01T00:00:00Z)` });
    return z.NEVER;
  }
  return ms;
});

const cidr = z.string().refine((s) => parseCidr(s) !== undefined, {
  error: (iss) => `invalid IP address or CIDR ${show(iss.input)}`,
});

const rule = z.strictObject({
  methods: z.array(z.string().regex(/^(?:[A-Z]+|\*)$/, { message: 'must be an upper-case HTTP method or *' })).min(1),
  paths: z
    .array(
      z.string().refine((p) => pathPatternProblem(p) === undefined, {
        error: (iss) => `invalid path pattern ${show(iss.input)}: ${pathPatternProblem(String(iss.input)) ?? PATH_PATTERN_PROBLEM}`,
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
  permissions: z.array(rule).optional(),
});

export const documentSchema = z
  .strictObject({
    tenants: z.array(tenant),
    credentials: z.array(credential),
  })
  .superRefine((doc, ctx) => {
    const tenantIds = new Set<string>();
    doc.tenants.forEach((t, i) => {
      if (tenantIds.has(t.id)) ctx.addIssue({ code: 'custom', path: ['tenants', i, 'id'], message: `duplicate tenant id ${show(t.id)}` });
      tenantIds.add(t.id);
    });
    const keyIds = new Set<string>();
    doc.credentials.forEach((c, i) => {
      if (keyIds.has(c.keyId)) ctx.addIssue({ code: 'custom', path: ['credentials', i, 'keyId'], message: `duplicate key id ${show(c.keyId)}` });
      keyIds.add(c.keyId);
      if (!tenantIds.has(c.tenant)) {
        ctx.addIssue({ code: 'custom', path: ['credentials', i, 'tenant'], message: `unknown tenant ${show(c.tenant)}` });
      }
      if (c.status === 'rotated' && c.graceUntil === undefined) {
        ctx.addIssue({ code: 'custom', path: ['credentials', i, 'graceUntil'], message: 'required when status is rotated' });
      }
    });
  });

export type CredentialsDocument = z.output<typeof documentSchema>;
export type CredentialEntry = CredentialsDocument['credentials'][number];

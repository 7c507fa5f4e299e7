// The compiled credentials snapshot: everything a request needs, looked up by key id in one Map get.
// Built once per document and frozen; a reload swaps the whole snapshot in one assignment, and a
// request keeps the snapshot it started with.
import { createHash } from 'node:crypto';
import { IpMatcher } from '../net/ip-match.js';
import { compileRule, type CompiledRule } from './permissions.js';
import { digestOf } from './secret-hash.js';
import type { CredentialsDocument, CredentialStatus } from './document-schema.js';
import { newLastUse, type LastUse } from './last-use.js';
import { credentialBuckets, keyBucket, tenantBucket, type Bucket } from '../ratelimit/bucket.js';

export interface Tenant {
  readonly id: string;
  readonly name: string | undefined;
  /** undefined = every IP allowed (null or empty list) */
  readonly allowList: IpMatcher | undefined;
  /** allowlist and permission denials are logged and counted, and the request proceeds (SPEC §6 rev 2) */
  readonly reportOnly: boolean;
  /** SPEC §13: all the tenant's keys together */
  readonly rateLimit: Bucket | undefined;
}

export interface Credential {
  readonly keyId: string;
  readonly tenant: Tenant;
  readonly status: CredentialStatus;
  readonly digest: Buffer;
  readonly graceUntil: number | undefined;
  readonly expiresAt: number | undefined;
  readonly label: string | undefined;
  /** when the key was made (rev 2; optional): rotation is due maxAge after it */
  readonly createdAt: number | undefined;
  /** this replica's record of use, mutable inside a frozen credential (see last-use.ts) */
  readonly lastUse: LastUse;
  /** the key's own list, checked besides its tenant's; undefined = no further narrowing (null or empty list) */
  readonly allowList: IpMatcher | undefined;
  /** undefined = every method and path */
  readonly permissions: readonly CompiledRule[] | undefined;
  /** the tenant's and the key's own rate limits; undefined = none (the rate-limit stage costs nothing) */
  readonly rateLimits: readonly Bucket[] | undefined;
}

export interface CredentialsSnapshot {
  readonly byKeyId: ReadonlyMap<string, Credential>;
  readonly tenants: ReadonlyMap<string, Tenant>;
  /** SHA-256 of the source text: an unchanged document is recognised and not swapped */
  readonly version: string;
  readonly loadedAt: number;
  readonly countsByStatus: Readonly<Record<CredentialStatus, number>>;
  /** the validated document it was compiled from: the audit diffs documents, not compiled matchers */
  readonly document: CredentialsDocument;
}

/** A document's identity: the same text is the same version, whatever source it came from. */
export function documentVersion(sourceText: string): string {
  return createHash('sha256').update(sourceText).digest('hex');
}

/** A list compiled once per document; null or empty is no list at all, so a request skips the check. */
function matcherOf(list: readonly string[] | null | undefined): IpMatcher | undefined {
  return list && list.length > 0 ? new IpMatcher(list) : undefined;
}

export function compileSnapshot(doc: CredentialsDocument, sourceText: string, now = Date.now()): CredentialsSnapshot {
  const tenants = new Map<string, Tenant>();
  for (const t of doc.tenants) {
    const rateLimit = t.rateLimit ? tenantBucket(t.id, t.rateLimit) : undefined;
    tenants.set(t.id, Object.freeze({ id: t.id, name: t.name, allowList: matcherOf(t.ipAllowList), reportOnly: t.reportOnly === true, rateLimit }));
  }
  const byKeyId = new Map<string, Credential>();
  const countsByStatus = { provisioned: 0, active: 0, rotated: 0, revoked: 0 };
  for (const c of doc.credentials) {
    const tenant = tenants.get(c.tenant);
    if (!tenant) throw new Error(`credential ${c.keyId}: unknown tenant`); // the schema rejects this first
    countsByStatus[c.status] += 1;
    byKeyId.set(
      c.keyId,
      Object.freeze({
        keyId: c.keyId,
        tenant,
        status: c.status,
        digest: digestOf(c.secretHash),
        graceUntil: c.graceUntil,
        expiresAt: c.expiresAt,
        label: c.label,
        createdAt: c.createdAt,
        lastUse: newLastUse(),
        allowList: matcherOf(c.ipAllowList),
        permissions: c.permissions ? Object.freeze(c.permissions.map(compileRule)) : undefined,
        rateLimits: credentialBuckets(tenant.rateLimit, c.rateLimit ? keyBucket(tenant.id, c.keyId, c.rateLimit) : undefined),
      }),
    );
  }
  return Object.freeze({ byKeyId, tenants, version: documentVersion(sourceText), loadedAt: now, countsByStatus: Object.freeze(countsByStatus), document: doc });
}

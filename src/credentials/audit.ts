// The audit of applied credentials changes (SPEC §8 rev 2): the difference between the document in
// force and the one replacing it, one entry per changed item, so that who-changed-what is on record
// whatever carried the change (file watch, poll, SIGHUP, POST /admin/reload, control endpoint).
// Entries name the fields that changed, never their values where a value could be secret: a
// re-keyed credential shows `fields: ["secretHash"]`, never a hash.
import type { Logger } from '../telemetry/logger.js';
import type { CredentialsDocument, CredentialStatus } from './document-schema.js';

export type ChangeKind = 'added' | 'removed' | 'status' | 'rotated' | 'allowlist' | 'permissions' | 'expiry' | 'tenant';

export interface CredentialChange {
  readonly change: ChangeKind;
  readonly tenant: string;
  /** absent for a tenant-level change */
  readonly keyId?: string;
  /** the document fields behind the change, by name only */
  readonly fields?: readonly string[];
  /** the status before and after, on a status change */
  readonly from?: CredentialStatus;
  readonly to?: CredentialStatus;
}

type TenantEntry = CredentialsDocument['tenants'][number];
type CredentialEntry = CredentialsDocument['credentials'][number];

// Which change kind each field belongs to. A secretHash change alone is a re-key of the same key id:
// logged as `rotated`, the closest kind in the SPEC's list, so that a secret replaced in place is never
// mistaken for metadata. A label is descriptive and travels with the status line.
// Typed as a complete record: a field added to the schema does not compile until it has a kind here.
const CREDENTIAL_FIELDS: Readonly<Record<Exclude<keyof CredentialEntry, 'keyId'>, ChangeKind>> = {
  tenant: 'tenant',
  status: 'status',
  label: 'status',
  secretHash: 'rotated',
  graceUntil: 'rotated',
  expiresAt: 'expiry',
  // createdAt decides when a key is due for rotation (credentials.maxAge): an expiry matter.
  createdAt: 'expiry',
  ipAllowList: 'allowlist',
  permissions: 'permissions',
  rateLimit: 'permissions',
};

const TENANT_FIELDS: Readonly<Record<Exclude<keyof TenantEntry, 'id'>, ChangeKind>> = {
  ipAllowList: 'allowlist',
  name: 'tenant',
  reportOnly: 'tenant',
  rateLimit: 'tenant',
};

/** Allowlists are sets: reordering one changes nothing a request sees. Absent, null and [] all mean "any". */
function canonical(field: string, value: unknown): string {
  if (field === 'ipAllowList') return JSON.stringify(Array.isArray(value) ? [...(value as string[])].sort() : []);
  if (field === 'reportOnly') return JSON.stringify(value === true);
  return JSON.stringify(value ?? null);
}

/** The changed fields of one entry, grouped by kind in the order the table lists them. */
function changedFields(before: object, after: object, table: Readonly<Record<string, ChangeKind>>): Map<ChangeKind, string[]> {
  const byKind = new Map<ChangeKind, string[]>();
  const at = (e: object, f: string): unknown => (e as Record<string, unknown>)[f];
  for (const [field, kind] of Object.entries(table)) {
    if (canonical(field, at(before, field)) === canonical(field, at(after, field))) continue;
    byKind.set(kind, [...(byKind.get(kind) ?? []), field]);
  }
  return byKind;
}

function credentialChanges(before: CredentialEntry, after: CredentialEntry): CredentialChange[] {
  const byKind = changedFields(before, after, CREDENTIAL_FIELDS);
  const statusMoved = before.status !== after.status;
  // A move into `rotated` is the rotation itself: one `rotated` line carries the status and the grace.
  if (statusMoved && after.status === 'rotated') {
    const statusFields = (byKind.get('status') ?? []).filter((f) => f !== 'status');
    byKind.set('rotated', ['status', ...(byKind.get('rotated') ?? [])]);
    if (statusFields.length > 0) byKind.set('status', statusFields);
    else byKind.delete('status');
  }
  const base = { tenant: after.tenant, keyId: after.keyId };
  return [...byKind].map(([change, fields]) =>
    (change === 'status' || change === 'rotated') && statusMoved
      ? { ...base, change, fields, from: before.status, to: after.status }
      : { ...base, change, fields },
  );
}

/** Every changed item between two documents: tenants added and changed, keys, keys removed, tenants removed. */
export function diffDocuments(before: CredentialsDocument, after: CredentialsDocument): CredentialChange[] {
  const changes: CredentialChange[] = [];
  const oldTenants = new Map(before.tenants.map((t) => [t.id, t]));
  const newTenants = new Set(after.tenants.map((t) => t.id));
  for (const t of after.tenants) {
    const old = oldTenants.get(t.id);
    if (!old) changes.push({ change: 'added', tenant: t.id });
    else for (const [change, fields] of changedFields(old, t, TENANT_FIELDS)) changes.push({ change, tenant: t.id, fields });
  }
  const oldKeys = new Map(before.credentials.map((c) => [c.keyId, c]));
  const newKeys = new Set(after.credentials.map((c) => c.keyId));
  for (const c of after.credentials) {
    const old = oldKeys.get(c.keyId);
    if (!old) changes.push({ change: 'added', tenant: c.tenant, keyId: c.keyId, to: c.status });
    else changes.push(...credentialChanges(old, c));
  }
  for (const c of before.credentials) if (!newKeys.has(c.keyId)) changes.push({ change: 'removed', tenant: c.tenant, keyId: c.keyId, from: c.status });
  for (const t of before.tenants) if (!newTenants.has(t.id)) changes.push({ change: 'removed', tenant: t.id });
  return changes;
}

/** One info line per change; `source` is where the document came from (file path or endpoint origin). */
export function logChanges(logger: Logger, source: string, changes: readonly CredentialChange[]): void {
  for (const c of changes) logger.info({ source, ...c }, 'credential change');
}

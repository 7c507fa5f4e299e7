// `custody-proxy keys list` (SPEC §2): a table or a JSON array of every key (or one tenant's) with its
// written and effective status and its dates. Reads the document as the proxy would (an invalid one is
// an error) and never shows a hash or a secret: the rows are built from named fields only.
import { parseCredentials } from '../credentials/document-load.js';
import type { Credential } from '../credentials/snapshot.js';
import { effectiveStatus, type EffectiveStatus } from '../credentials/effective-status.js';
import { DEFAULT_LIFECYCLE_LIMITS, judgedKeys, lifecycleWarnings, type LifecycleWarning } from '../credentials/lifecycle-warnings.js';
import { EditError, readDocumentText } from './document-edit.js';
import { isoSeconds } from './key-options.js';

export interface KeyRow {
  readonly keyId: string;
  readonly tenant: string;
  readonly status: string;
  readonly effectiveStatus: EffectiveStatus;
  /** RFC 3339 UTC to the second; null when the record has none */
  readonly createdAt: string | null;
  readonly graceUntil: string | null;
  readonly expiresAt: string | null;
  readonly label: string | null;
  /** SPEC §8 rev 2, judged by the default limits (expiring within 7d, active and older than 90d) */
  readonly warnings: ReadonlyArray<LifecycleWarning['kind']>;
}

const date = (ms: number | undefined): string | null => (ms === undefined ? null : isoSeconds(ms));

function rowOf(c: Credential, now: number): KeyRow {
  const warnings = lifecycleWarnings(judgedKeys([c]), DEFAULT_LIFECYCLE_LIMITS, now).map((w) => w.kind);
  return {
    keyId: c.keyId,
    tenant: c.tenant.id,
    status: c.status,
    effectiveStatus: effectiveStatus(c, now),
    createdAt: date(c.createdAt),
    graceUntil: date(c.graceUntil),
    expiresAt: date(c.expiresAt),
    label: c.label ?? null,
    warnings,
  };
}

/** The rows of FILE in document order; `tenant` narrows them to one existing tenant. */
export function keyRows(file: string, tenant: string | undefined, now: number): KeyRow[] {
  const result = parseCredentials(readDocumentText(file));
  if (!result.ok) throw new EditError(`${file} is not a valid credentials document: ${result.problems[0] ?? ''}`);
  const { snapshot } = result;
  if (tenant !== undefined && !snapshot.tenants.has(tenant)) throw new EditError(`unknown tenant ${JSON.stringify(tenant)}`);
  return [...snapshot.byKeyId.values()].filter((c) => tenant === undefined || c.tenant.id === tenant).map((c) => rowOf(c, now));
}

/**
 * A label or name is free text from the file: control characters (a newline, an ANSI escape) would
 * break a table or drive the terminal, so they are shown escaped.
 */
export const printable = (text: string): string => text.replace(/[\x00-\x1f\x7f]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);

const HEADER = ['KEY ID', 'TENANT', 'STATUS', 'EFFECTIVE', 'CREATED', 'GRACE UNTIL', 'EXPIRES', 'WARNINGS', 'LABEL'];

export function formatTable(rows: readonly KeyRow[]): string {
  const cells = [
    HEADER,
    ...rows.map((r) => [r.keyId, r.tenant, r.status, r.effectiveStatus, r.createdAt ?? '-', r.graceUntil ?? '-', r.expiresAt ?? '-', r.warnings.join(',') || '-', printable(r.label ?? '')]),
  ];
  return alignedTable(cells);
}

/** Rows of cells (the first the header) as columns padded to their widest cell, two spaces apart. */
export function alignedTable(cells: readonly (readonly string[])[]): string {
  const widths = (cells[0] ?? []).map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

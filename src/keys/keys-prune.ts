// `custody-proxy keys prune` (SPEC §2 rev 2): drops the records of dead keys (revoked, or expired: past
// expiresAt, or rotated past graceUntil) once they are older than --older-than. A record's age is
// counted from the latest date it holds (graceUntil, expiresAt, createdAt): the last moment anything
// happened to it that the file records. A dead record with none of them (revoke writes no date, and
// records from before rev 2 have no createdAt) has an unknown age and counts as old.
import { isSeq, type Document, type YAMLMap } from 'yaml';
import { parseIsoTime, type CredentialStatus } from '../credentials/document-schema.js';
import { effectiveStatus } from '../credentials/effective-status.js';
import { credentialNodes } from './document-edit.js';

const DATES = ['graceUntil', 'expiresAt', 'createdAt'] as const;

/** A date field of a validated record in epoch ms (YAML core schema keeps timestamps as strings). */
function dateOf(node: YAMLMap, field: (typeof DATES)[number]): number | undefined {
  const value: unknown = node.get(field);
  if (value === undefined || value === null) return undefined;
  const ms = value instanceof Date ? value.getTime() : parseIsoTime(String(value));
  return Number.isFinite(ms) ? ms : undefined;
}

function prunable(node: YAMLMap, cutoff: number, now: number): boolean {
  const status = String(node.get('status')) as CredentialStatus;
  const effective = effectiveStatus({ status, graceUntil: dateOf(node, 'graceUntil'), expiresAt: dateOf(node, 'expiresAt') }, now);
  if (effective !== 'revoked' && effective !== 'expired') return false;
  const dates = DATES.map((f) => dateOf(node, f)).filter((ms): ms is number => ms !== undefined);
  return dates.length === 0 || Math.max(...dates) < cutoff;
}

/** Removes the prunable records from the document; returns their key ids in document order. */
export function pruneCredentials(doc: Document, olderThanMs: number, now: number): string[] {
  const seq = doc.get('credentials');
  if (!isSeq(seq)) return [];
  const doomed = credentialNodes(doc).filter((n) => prunable(n, now - olderThanMs, now));
  seq.items = seq.items.filter((n) => !doomed.includes(n as YAMLMap));
  return doomed.map((n) => String(n.get('keyId')));
}

// Parses and validates a credentials document (YAML or JSON text) into a snapshot, or into the full
// list of `path: message` problems. Used at start, on every reload and by `custody-proxy check`.
import { parseDocument } from 'yaml';
import { formatIssues, yamlProblems } from '../config/problems.js';
import { crossEntryProblems, documentSchema } from './document-schema.js';
import { compileSnapshot, type CredentialsSnapshot } from './snapshot.js';

export type DocumentResult =
  | { readonly ok: true; readonly snapshot: CredentialsSnapshot }
  | { readonly ok: false; readonly problems: readonly string[] };

/** YAML is a superset of JSON, so one parser serves files and YAML from the control endpoint. */
export function parseCredentials(text: string): DocumentResult {
  const doc = parseDocument(text, { uniqueKeys: true });
  const syntax = yamlProblems(doc);
  if (syntax.length > 0) return { ok: false, problems: syntax };
  return validateCredentials(doc.toJS(), text);
}

/** A control endpoint's `application/json` answer: strict JSON, then the same validation. */
export function parseCredentialsJson(text: string): DocumentResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { ok: false, problems: [`(json): ${(err as Error).message}`] };
  }
  return validateCredentials(raw, text);
}

function validateCredentials(raw: unknown, text: string): DocumentResult {
  if (raw === null || raw === undefined) return { ok: false, problems: ['(root): the document is empty'] };
  const result = documentSchema.safeParse(raw, { reportInput: true });
  const problems = [...(result.success ? [] : formatIssues(result.error.issues)), ...crossEntryProblems(raw)];
  if (!result.success || problems.length > 0) return { ok: false, problems };
  return { ok: true, snapshot: compileSnapshot(result.data, text) };
}

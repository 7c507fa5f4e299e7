// Edits a credentials file in place for the key CLI: the yaml Document API keeps comments and layout,
// the edited text is validated as a whole before it is written, the write is atomic (temp file in
// the same folder + rename), and a lock file serialises concurrent invocations so none loses an
// update (edit-lock.ts). A symlinked file is edited through the link. On any error the file is left
// untouched.
import { chmodSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { isMap, isSeq, parseDocument, type Document, type YAMLMap } from 'yaml';
import { parseCredentials } from '../credentials/document-load.js';
import { keepLayout } from './keep-layout.js';
import { acquireLock } from './edit-lock.js';

export class EditError extends Error {
  override readonly name = 'EditError';
}

/** The credentials sequence of a parsed document, as editable YAML nodes. */
export function credentialNodes(doc: Document): YAMLMap[] {
  const seq = doc.get('credentials');
  if (!isSeq(seq)) throw new EditError('the document has no credentials list');
  return seq.items.filter((n): n is YAMLMap => isMap(n));
}

/** The tenant with this id, as an editable YAML node; undefined also when the document has no tenants list. */
export function findTenant(doc: Document, id: string): YAMLMap | undefined {
  const seq = doc.get('tenants');
  return isSeq(seq) ? seq.items.find((n): n is YAMLMap => isMap(n) && n.get('id') === id) : undefined;
}

/**
 * The file an edit replaces: a symlinked CREDS is edited through the link (the link stays a link; the
 * file it points to is replaced, in its own folder, where the rename is atomic).
 */
function linkTarget(file: string): string {
  try {
    return realpathSync(file);
  } catch (err) {
    throw new EditError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** Temp file beside `target`, flushed, with target's mode, renamed over it; removed on failure. */
function writeAtomically(target: string, text: string, shownAs: string): void {
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    writeFileSync(tmp, text, { mode: 0o600, flush: true });
    chmodSync(tmp, statSync(target).mode & 0o777);
    renameSync(tmp, target);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // never created
    }
    throw new EditError(`cannot write ${shownAs}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/**
 * Reads CREDS, lets `edit` change the Document, validates the result and writes it atomically.
 * Returns whatever `edit` returns; when `changed` says that result changed nothing, the file is not
 * rewritten (a running proxy then sees no change to reload).
 */
export function editCredentialsFile<T>(file: string, edit: (doc: Document) => T, changed: (result: T) => boolean = () => true): T {
  const target = linkTarget(file);
  let release: () => void;
  try {
    release = acquireLock(`${target}.lock`);
  } catch (err) {
    throw new EditError((err as Error).message);
  }
  try {
    const text = readDocumentText(target);
    const before = parseCredentials(text);
    if (!before.ok) throw new EditError(`${file} is not a valid credentials document: ${before.problems[0] ?? ''}`);
    const doc = parseDocument(text);
    const result = edit(doc);
    if (!changed(result)) return result;
    // Keep the operator's layout: flow sequences as `[a, b]` (SPEC §4's style, not `[ a, b ]`), long
    // lines as written (the default 80-column width re-folds every long label in the file), and what
    // the library cannot keep (inline comment spacing, a comment after `key:`) from the original.
    const out = keepLayout(text, doc.toString({ flowCollectionPadding: false, lineWidth: 0 }));
    const after = parseCredentials(out);
    if (!after.ok) throw new EditError(`the edit would make the document invalid: ${after.problems[0] ?? ''}`);
    writeAtomically(target, out, file);
    return result;
  } finally {
    release();
  }
}

export function readDocumentText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new EditError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

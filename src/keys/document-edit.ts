// Edits a credentials file in place for the key CLI: the yaml Document API keeps comments and layout,
// the edited text is validated as a whole before it is written, the write is atomic (temp file in
// the same folder + rename), and a lock file serialises concurrent invocations so none loses an
// update. On any error the file is left untouched.
import { closeSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { isMap, isSeq, parseDocument, type Document, type YAMLMap } from 'yaml';
import { parseCredentials } from '../credentials/document-load.js';
import { keepLayout } from './keep-layout.js';

export class EditError extends Error {
  override readonly name = 'EditError';
}

const LOCK_WAIT_MS = 10_000;
// A lock older than this was left by a crashed invocation (an edit takes milliseconds).
const LOCK_STALE_MS = 30_000;

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function acquireLock(lock: string): void {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx'));
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new EditError(`cannot create lock ${lock}: ${(err as NodeJS.ErrnoException).code}`);
    }
    try {
      if (Date.now() - statSync(lock).mtimeMs > LOCK_STALE_MS) unlinkSync(lock);
    } catch {
      // gone already: retry at once
    }
    if (Date.now() > deadline) throw new EditError(`${lock} is held by another invocation`);
    sleep(20 + Math.floor(Math.random() * 30));
  }
}

/** The credentials sequence of a parsed document, as editable YAML nodes. */
export function credentialNodes(doc: Document): YAMLMap[] {
  const seq = doc.get('credentials');
  if (!isSeq(seq)) throw new EditError('the document has no credentials list');
  return seq.items.filter((n): n is YAMLMap => isMap(n));
}

/**
 * Reads CREDS, lets `edit` change the Document, validates the result and writes it atomically.
 * Returns whatever `edit` returns; when `changed` says that result changed nothing, the file is not
 * rewritten (a running proxy then sees no change to reload).
 */
export function editCredentialsFile<T>(file: string, edit: (doc: Document) => T, changed: (result: T) => boolean = () => true): T {
  const lock = `${file}.lock`;
  acquireLock(lock);
  try {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new EditError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    const before = parseCredentials(text);
    if (!before.ok) throw new EditError(`${file} is not a valid credentials document: ${before.problems[0] ?? ''}`);
    const doc = parseDocument(text);
    const result = edit(doc);
    if (!changed(result)) return result;
    // Keep the operator's layout: flow sequences as `[a, b]` (SPEC §4's style, not `[ a, b ]`) and
    // long lines as written (the default 80-column width re-folds every long label in the file).
    // and what the library cannot keep (inline comment spacing, a comment after `key:`) from the original
    const out = keepLayout(text, doc.toString({ flowCollectionPadding: false, lineWidth: 0 }));
    const after = parseCredentials(out);
    if (!after.ok) throw new EditError(`the edit would make the document invalid: ${after.problems[0] ?? ''}`);
    const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      writeFileSync(tmp, out, { mode: 0o600, flush: true });
      chmodSync(tmp, statSync(file).mode & 0o777);
      renameSync(tmp, file);
    } catch (err) {
      try {
        unlinkSync(tmp);
      } catch {
        // never created
      }
      throw new EditError(`cannot write ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    return result;
  } finally {
    try {
      unlinkSync(lock);
    } catch {
      // already removed
    }
  }
}

export function readDocumentText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new EditError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

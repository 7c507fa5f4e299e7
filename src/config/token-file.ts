// Bearer tokens (admin API, control endpoint) live in files mounted from Secrets, never in the
// config itself. Surrounding whitespace (the usual trailing newline) is not part of the token.
import { readFileSync, statSync } from 'node:fs';

export function readTokenFile(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  let token: string;
  try {
    token = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new Error(`cannot read token file ${JSON.stringify(file)}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (token === '') throw new Error(`token file ${JSON.stringify(file)} is empty`);
  return token;
}

/**
 * A token file re-read whenever its stat changes, so a rotated token (a Kubernetes Secret's `..data`
 * symlink swap, an edit) is used from the next request on without a restart; one stat per use. The
 * file is read at construction (a missing or empty file stops the start); a later read that fails
 * (the file briefly absent mid-swap) keeps the last good token and is retried on the next use.
 */
export class TokenFile {
  private token: string;
  private statKey: string;

  constructor(
    private readonly file: string,
    private readonly onRereadFailed: (problem: string) => void,
  ) {
    this.statKey = statKeyOf(file);
    this.token = readTokenFile(file) ?? '';
  }

  current(): string {
    const key = statKeyOf(this.file);
    if (key === this.statKey) return this.token;
    try {
      this.token = readTokenFile(this.file) ?? '';
      this.statKey = key;
    } catch (err) {
      this.onRereadFailed((err as Error).message);
    }
    return this.token;
  }
}

/** stat follows symlinks: a `..data` swap changes the inode, an edit the size or mtime. */
function statKeyOf(file: string): string {
  try {
    const s = statSync(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

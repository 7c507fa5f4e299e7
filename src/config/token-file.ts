// Bearer tokens (admin API, control endpoint) live in files mounted from Secrets, never in the
// config itself. Surrounding whitespace (the usual trailing newline) is not part of the token.
import { readFileSync } from 'node:fs';

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

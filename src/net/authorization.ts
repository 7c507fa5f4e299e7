// The Authorization header as both listeners read it (SPEC §5 for API keys, §11 for the admin token):
// how many lines the client sent (Node keeps only the first in req.headers, so a second line must be
// counted in rawHeaders) and where the token starts after the `Bearer` scheme.

/** A raw header name that is Authorization. (The usual spellings are compared first: toLowerCase() on every request's names showed up in profiles.) */
export function isAuthorizationName(name: string): boolean {
  return name.length === 13 && (name === 'Authorization' || name === 'authorization' || name.toLowerCase() === 'authorization');
}

/** Authorization lines as sent. */
export function authorizationLineCount(rawHeaders: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (isAuthorizationName(rawHeaders[i] ?? '')) n++;
  return n;
}

/**
 * Where the token starts after the scheme `Bearer` (any case) and one or more spaces, or -1. (A regex
 * exec here built a match array on every request.)
 */
export function bearerTokenStart(header: string): number {
  if (!header.startsWith('Bearer ') && !(header.length > 6 && header.charCodeAt(6) === 0x20 && header.slice(0, 6).toLowerCase() === 'bearer')) return -1;
  let i = 7;
  while (header.charCodeAt(i) === 0x20) i++;
  return i;
}

// The header names a `Connection` value lists (RFC 9110 §7.6.1), for both directions: the request's
// listing (stamp-headers.ts) and the upstream response's (forward/response-headers.ts).

/**
 * Adds the lower-cased names `value` lists, those `keep` accepts, to `listed` (created on the first
 * one); returns it. The usual values (`keep-alive`, `close`) list no other header and are skipped whole.
 */
export function addListedNames(value: string, listed: Set<string> | undefined, keep?: (name: string) => boolean): Set<string> | undefined {
  if (value === 'keep-alive' || value === 'close' || value === 'Keep-Alive') return listed;
  for (const part of value.split(',')) {
    const name = part.trim().toLowerCase();
    if (name && (keep === undefined || keep(name))) (listed ??= new Set()).add(name);
  }
  return listed;
}

// What a completed record keeps of a response and how it is replayed (SPEC §9): status, body bytes
// and headers, less those regenerated per response (hop-by-hop, Set-Cookie, Date, Content-Length,
// X-Request-Id); the replay adds `Idempotent-Replayed: true`.
import type { StoredResponse } from './store.js';

const NOT_STORED = new Set(['set-cookie', 'date', 'content-length', 'x-request-id', 'connection', 'keep-alive', 'transfer-encoding']);

/** From the flat header list the forwarder sent to the client. */
export function toStoredResponse(status: number, flat: readonly string[], body: Buffer): StoredResponse {
  const headers: Array<readonly [string, string]> = [];
  for (let i = 0; i < flat.length; i += 2) {
    const name = (flat[i] as string).toLowerCase();
    if (!NOT_STORED.has(name)) headers.push([name, flat[i + 1] as string]);
  }
  return { status, headers, body };
}

export const REPLAYED = { 'idempotent-replayed': 'true' } as const;

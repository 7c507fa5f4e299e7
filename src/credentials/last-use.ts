// When this replica last authenticated each key (SPEC §8 rev 2, `lastUsedAt` on /admin/credentials).
// The request path pays one number store on a record the credential already holds: no Map lookup, no
// allocation, no timer. A reload compiles new credentials, so the times of the keys that remain are
// carried over by key id when the new snapshot is swapped in.
import type { CredentialsSnapshot } from './snapshot.js';

/** Mutable on purpose inside a frozen credential: the one thing a request writes. */
export interface LastUse {
  /** epoch ms of the last successful authentication here; 0 = never */
  at: number;
}

export function newLastUse(): LastUse {
  return { at: 0 };
}

/** Copies each remaining key's last use from `previous` into `next` (before `next` goes into force). */
export function carryLastUse(previous: CredentialsSnapshot | undefined, next: CredentialsSnapshot): void {
  if (!previous) return;
  for (const [keyId, credential] of next.byKeyId) {
    const before = previous.byKeyId.get(keyId);
    if (before && before.lastUse.at > credential.lastUse.at) credential.lastUse.at = before.lastUse.at;
  }
}

/** ISO time of the last use, or null when this replica has not seen the key used. */
export function lastUsedAt(use: LastUse): string | null {
  return use.at > 0 ? new Date(use.at).toISOString() : null;
}

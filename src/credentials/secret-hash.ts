// Secrets are stored only as `sha256:<hex>` digests and compared with timingSafeEqual. An unknown key
// id is compared against a dummy digest, so a lookup miss costs the same as a wrong secret (Caddy's
// basicauth does the same) and response timing does not reveal which key ids exist.
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

export const SECRET_HASH_PATTERN = /^sha256:[0-9a-f]{64}$/;

/** A secret's SHA-256 digest (one-shot crypto.hash), as stored by formatSecretHash. */
export function sha256(secret: string): Buffer {
  return hash('sha256', secret, 'buffer');
}

export function formatSecretHash(secret: string): string {
  return `sha256:${sha256(secret).toString('hex')}`;
}

/** The 32 digest bytes of a valid `sha256:<hex>` text. */
export function digestOf(secretHash: string): Buffer {
  return Buffer.from(secretHash.slice('sha256:'.length), 'hex');
}

// Random per process: no secret can ever match it.
const DUMMY_DIGEST = randomBytes(32);

// The presented secret's digest, reused by every request: written synchronously and compared at once.
const presentedDigest = Buffer.alloc(32);

/**
 * Constant-time check of a presented secret against a stored digest (or the dummy when none). The digest
 * comes back as a "binary" (latin1) string, one character per byte and lossless, and is copied into one reused buffer:
 * a fresh Buffer per request cost an ArrayBuffer allocation and its GC, twice the time of the hash itself.
 */
export function secretMatches(presented: string, stored: Buffer | undefined): boolean {
  presentedDigest.write(hash('sha256', presented, 'binary'), 0, 'latin1');
  const equal = timingSafeEqual(presentedDigest, stored ?? DUMMY_DIGEST);
  return equal && stored !== undefined;
}

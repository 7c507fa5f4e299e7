// Secrets are stored only as `sha256:<hex>` digests and compared with timingSafeEqual. An unknown key
// id is compared against a dummy digest, so a lookup miss costs the same as a wrong secret (Caddy's
// basicauth does the same) and response timing does not reveal which key ids exist.
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

export const SECRET_HASH_PATTERN = /^sha256:[0-9a-f]{64}$/;

/** One-shot crypto.hash: no Hash object per request on the authentication path. */
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

/** Constant-time check of a presented secret against a stored digest (or the dummy when none). */
export function secretMatches(presented: string, stored: Buffer | undefined): boolean {
  const digest = sha256(presented);
  const equal = timingSafeEqual(digest, stored ?? DUMMY_DIGEST);
  return equal && stored !== undefined;
}

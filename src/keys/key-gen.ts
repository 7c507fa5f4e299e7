// Key pairs for `custody-proxy keys` (SPEC §2): ids and secrets from the CSPRNG. The secret carries
// 256 bits (32 random bytes, base64url); the id 80 bits, enough to never collide in one document.
import { randomBytes } from 'node:crypto';

export type KeyEnv = 'live' | 'test';

export interface KeyPair {
  readonly keyId: string;
  readonly secret: string;
  /** `<keyId>:<secret>`, shown once */
  readonly token: string;
}

export function generateKeyPair(env: KeyEnv): KeyPair {
  const keyId = `ck_${env}_${randomBytes(10).toString('hex')}`;
  const secret = `sk_${env}_${randomBytes(32).toString('base64url')}`;
  return { keyId, secret, token: `${keyId}:${secret}` };
}

/** The env of an existing key id (`ck_test_…` → test), live otherwise. */
export function envOf(keyId: string): KeyEnv {
  return keyId.startsWith('ck_test_') ? 'test' : 'live';
}

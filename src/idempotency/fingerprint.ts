// Request fingerprints for idempotency records (SPEC §9): the method, the target and the SHA-256 of
// the body bytes. A record whose fingerprint differs from a new request's is a 422 conflict; the
// stores compare fingerprints with fingerprintsEqual so that both compare exactly the same fields.
import { hash } from 'node:crypto';
import type { Fingerprint } from './store.js';

/** Lowercase hex SHA-256 of the given bytes. */
export function sha256Hex(buf: Buffer | string): string {
  // One-shot crypto.hash: no Hash object per call.
  return hash('sha256', buf, 'hex');
}

/** The fingerprint of a request; target is path + query exactly as the client sent it. */
export function makeFingerprint(method: string, target: string, body: Buffer): Fingerprint {
  return { method, target, bodySha256: sha256Hex(body) };
}

export function fingerprintsEqual(a: Fingerprint, b: Fingerprint): boolean {
  return a.method === b.method && a.target === b.target && a.bodySha256 === b.bodySha256;
}

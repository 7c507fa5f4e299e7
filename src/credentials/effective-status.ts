// A key's status as it stands now (SPEC §8 rev 2), for /admin/credentials, `keys list` and the expiry
// warnings: the written status, except that a rotated key past its grace, and any key past its
// expiresAt, reads `expired`; a revoked key stays `revoked`, whatever its dates. Mirrors what
// authentication accepts (stages/authenticate.ts).
import type { CredentialStatus } from './document-schema.js';

export type EffectiveStatus = CredentialStatus | 'expired';

/** The fields the effective status depends on (a compiled credential or a parsed document entry). */
export interface LifecycleFields {
  readonly status: CredentialStatus;
  readonly graceUntil?: number | undefined;
  readonly expiresAt?: number | undefined;
}

export function effectiveStatus(c: LifecycleFields, now: number): EffectiveStatus {
  if (c.status === 'revoked') return 'revoked';
  if (c.expiresAt !== undefined && now >= c.expiresAt) return 'expired';
  if (c.status === 'rotated' && (c.graceUntil === undefined || now >= c.graceUntil)) return 'expired';
  return c.status;
}

/** Whether a request with this key would be accepted now: active, or rotated within grace. */
export function isUsable(c: LifecycleFields, now: number): boolean {
  const status = effectiveStatus(c, now);
  return status === 'active' || status === 'rotated';
}

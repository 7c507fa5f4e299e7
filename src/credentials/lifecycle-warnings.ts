// Expiry and rotation warnings (SPEC §8 rev 2): usable keys (active, or rotated within grace) whose
// expiresAt falls within expiryWarning, and active keys whose createdAt is more than maxAge ago (the
// custody guide: rotate every 90 days). A key without createdAt is not judged: its age is unknown, and
// guessing would warn about every key written before createdAt existed. Pure: serve's monitor and
// `check` both compute from here.
import { effectiveStatus, isUsable, type LifecycleFields } from './effective-status.js';

export interface LifecycleLimits {
  /** ms before expiresAt from which a usable key is reported as expiring */
  readonly expiryWarning: number;
  /** ms after createdAt from which an active key is due for rotation */
  readonly maxAge: number;
}

export interface JudgedKey extends LifecycleFields {
  readonly keyId: string;
  readonly tenant: string;
  readonly createdAt?: number | undefined;
}

const DAY_MS = 86_400_000;

/** SPEC §3's defaults (credentials.expiryWarning 7d, maxAge 90d): what `keys list` judges by, having no config. */
export const DEFAULT_LIFECYCLE_LIMITS: LifecycleLimits = { expiryWarning: 7 * DAY_MS, maxAge: 90 * DAY_MS };

export interface LifecycleWarning {
  readonly kind: 'expiring' | 'rotation_due';
  readonly keyId: string;
  readonly tenant: string;
  /** position of the key in the document's credentials list, for `check`'s `path: message` */
  readonly index: number;
  /** expiresAt for expiring, createdAt for rotation_due (epoch ms) */
  readonly at: number;
}

export function lifecycleWarnings(keys: Iterable<JudgedKey>, limits: LifecycleLimits, now: number): LifecycleWarning[] {
  const warnings: LifecycleWarning[] = [];
  let index = 0;
  for (const k of keys) {
    const base = { keyId: k.keyId, tenant: k.tenant, index };
    if (k.expiresAt !== undefined && isUsable(k, now) && k.expiresAt - now <= limits.expiryWarning) {
      warnings.push({ ...base, kind: 'expiring', at: k.expiresAt });
    }
    if (k.createdAt !== undefined && effectiveStatus(k, now) === 'active' && now - k.createdAt > limits.maxAge) {
      warnings.push({ ...base, kind: 'rotation_due', at: k.createdAt });
    }
    index += 1;
  }
  return warnings;
}

/** The keys of a compiled snapshot in document order, as judged here. */
export function judgedKeys(credentials: Iterable<{ readonly keyId: string; readonly tenant: { readonly id: string } } & Omit<JudgedKey, 'keyId' | 'tenant'>>): JudgedKey[] {
  return [...credentials].map((c) => ({ keyId: c.keyId, tenant: c.tenant.id, status: c.status, graceUntil: c.graceUntil, expiresAt: c.expiresAt, createdAt: c.createdAt }));
}

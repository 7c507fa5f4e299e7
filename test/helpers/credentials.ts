// Builds credentials documents for tests: real SHA-256 hashes of known secrets.
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';

export const hashOf = (secret: string): string => `sha256:${createHash('sha256').update(secret, 'utf8').digest('hex')}`;

export interface TenantSpec {
  id: string;
  name?: string;
  ipAllowList?: string[] | null;
  reportOnly?: boolean;
}

export interface KeySpec {
  keyId: string;
  tenant: string;
  secret: string;
  status?: 'provisioned' | 'active' | 'rotated' | 'revoked';
  graceUntil?: string;
  expiresAt?: string;
  createdAt?: string;
  label?: string;
  ipAllowList?: string[] | null;
  permissions?: Array<{ methods: string[]; paths: string[] }>;
}

export function credentialsYaml(tenants: TenantSpec[], keys: KeySpec[]): string {
  return stringify({
    tenants,
    credentials: keys.map(({ secret, status, ...rest }) => ({ ...rest, status: status ?? 'active', secretHash: hashOf(secret) })),
  });
}

export const bearer = (k: Pick<KeySpec, 'keyId' | 'secret'>): string => `Bearer ${k.keyId}:${k.secret}`;

// /admin/* on the admin listener (SPEC §11): `GET /admin/credentials` (tenants, key ids, statuses,
// graceUntil; never hashes) and `POST /admin/reload`, behind `Authorization: Bearer <admin token>`
// compared in constant time. Without a token file every /admin/* path answers 404 (disabled).
import { createHash, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import type { CredentialsRegistry } from '../credentials/registry.js';
import { json } from './admin-server.js';

export interface AdminRoutesDeps {
  /** undefined = /admin/* disabled */
  readonly token: string | undefined;
  readonly registry: CredentialsRegistry;
  readonly reload: () => Promise<string>;
}

// Digests of equal length, so timingSafeEqual never throws and length is not revealed either.
const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

function authorized(req: http.IncomingMessage, expected: Buffer): boolean {
  const header = req.headers.authorization ?? '';
  const m = /^bearer +(.+)$/i.exec(header);
  return timingSafeEqual(digest(m?.[1] ?? ''), expected) && m !== null;
}

function credentialsView(registry: CredentialsRegistry): unknown {
  const s = registry.current;
  if (!s) return { loaded: false, tenants: [], credentials: [] };
  return {
    loaded: true,
    version: s.version,
    loadedAt: new Date(s.loadedAt).toISOString(),
    tenants: [...s.tenants.values()].map((t) => ({ id: t.id, name: t.name ?? null, ipAllowList: t.allowList ? 'restricted' : 'any' })),
    credentials: [...s.byKeyId.values()].map((c) => ({
      keyId: c.keyId,
      tenant: c.tenant.id,
      status: c.status,
      graceUntil: c.graceUntil === undefined ? null : new Date(c.graceUntil).toISOString(),
      expiresAt: c.expiresAt === undefined ? null : new Date(c.expiresAt).toISOString(),
      label: c.label ?? null,
    })),
  };
}

export function adminRoutes(deps: AdminRoutesDeps): (req: http.IncomingMessage, res: http.ServerResponse) => boolean {
  const expected = deps.token === undefined ? undefined : digest(deps.token);
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path !== '/admin' && !path.startsWith('/admin/')) return false;
    if (!expected) {
      json(res, 404, { error: 'admin API disabled (no admin.tokenFile)' });
      return true;
    }
    if (!authorized(req, expected)) {
      json(res, 401, { error: 'admin token required' }, { 'www-authenticate': 'Bearer' });
      return true;
    }
    if (path === '/admin/credentials' && req.method === 'GET') {
      json(res, 200, credentialsView(deps.registry));
    } else if (path === '/admin/reload' && req.method === 'POST') {
      deps.reload().then(
        (result) => json(res, result === 'rejected' || result === 'error' ? 422 : 200, { result }),
        (err: unknown) => json(res, 500, { result: 'error', error: String(err) }),
      );
    } else {
      json(res, 404, { error: 'not found' });
    }
    return true;
  };
}

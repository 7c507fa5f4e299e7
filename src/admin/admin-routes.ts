// /admin/* on the admin listener (SPEC §11): `GET /admin/credentials` (tenants, key ids, statuses,
// graceUntil; never hashes) → 200, `POST /admin/idempotency/ack-loss` → 200 {acknowledged} or 503 when
// the store does not answer, and `POST /admin/reload` → 200 (applied, unchanged), 422 (rejected,
// error) or 500, behind `Authorization: Bearer <admin token>` compared in constant time. A missing or
// wrong token, or more than one Authorization line, → 401; any other /admin path or method → 404.
// Without a token file every /admin/* path answers 404 (disabled). Every /admin/* request is logged
// once its response is done ("admin request": method, path, status, outcome, peer; info for 2xx, warn
// for 4xx, error for 5xx), never with the Authorization value.
import { createHash, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import type { CredentialsRegistry } from '../credentials/registry.js';
import type { Logger } from '../telemetry/logger.js';
import { json } from './admin-server.js';

export interface AdminRoutesDeps {
  /** undefined = /admin/* disabled */
  readonly token: string | undefined;
  readonly registry: CredentialsRegistry;
  readonly reload: () => Promise<string>;
  /** acknowledges an idempotency-store loss; false when the store has none to acknowledge (memory) */
  readonly ackLoss: () => Promise<boolean>;
  /** where the "admin request" lines go */
  readonly logger: Logger;
}

/** What became of an admin request, as logged. */
export type AdminOutcome = 'ok' | 'unauthorized' | 'disabled' | 'not_found' | 'rejected' | 'error' | 'aborted';

/** Writes the response and records its outcome for the log line. */
type Answer = (outcome: AdminOutcome, status: number, body: unknown, extra?: Record<string, string>) => void;

// Digests of equal length, so timingSafeEqual never throws and length is not revealed either.
const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Authorization lines as sent: Node keeps only the first in req.headers, so count the raw lines. */
function authorizationLines(req: http.IncomingMessage): number {
  let n = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]?.toLowerCase() === 'authorization') n += 1;
  return n;
}

function authorized(req: http.IncomingMessage, expected: Buffer): boolean {
  const header = req.headers.authorization ?? '';
  const m = /^bearer +(.+)$/i.exec(header);
  // The compare always runs; two Authorization lines are refused even when one holds the token.
  return timingSafeEqual(digest(m?.[1] ?? ''), expected) && m !== null && authorizationLines(req) === 1;
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

function reload(deps: AdminRoutesDeps, answer: Answer): void {
  deps.reload().then(
    (result) => {
      if (result === 'rejected' || result === 'error') answer(result, 422, { result });
      else answer('ok', 200, { result });
    },
    (err: unknown) => answer('error', 500, { result: 'error', error: String(err) }),
  );
}

function route(req: http.IncomingMessage, path: string, deps: AdminRoutesDeps, expected: Buffer | undefined, answer: Answer): void {
  if (!expected) {
    answer('disabled', 404, { error: 'admin API disabled (no admin.tokenFile)' });
  } else if (!authorized(req, expected)) {
    answer('unauthorized', 401, { error: 'admin token required' }, { 'www-authenticate': 'Bearer' });
  } else if (path === '/admin/credentials' && req.method === 'GET') {
    answer('ok', 200, credentialsView(deps.registry));
  } else if (path === '/admin/reload' && req.method === 'POST') {
    reload(deps, answer);
  } else if (path === '/admin/idempotency/ack-loss' && req.method === 'POST') {
    deps.ackLoss().then(
      (acknowledged) => answer('ok', 200, { acknowledged }),
      (err: unknown) => answer('error', 503, { acknowledged: false, error: String(err) }),
    );
  } else {
    answer('not_found', 404, { error: 'not found' });
  }
}

/** One line per admin request once the response is done (or the connection went away first). */
function logWhenDone(logger: Logger, req: http.IncomingMessage, res: http.ServerResponse, path: string): (o: AdminOutcome) => void {
  let outcome: AdminOutcome = 'error';
  const peer = req.socket.remoteAddress ?? null; // read now: a closed socket no longer knows it
  res.once('close', () => {
    const finished = res.writableFinished;
    const status = res.headersSent ? res.statusCode : null;
    const fields = { method: req.method, path, status, outcome: finished ? outcome : 'aborted', peer };
    const level = !finished ? 'warn' : res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info';
    logger[level](fields, 'admin request');
  });
  return (o) => {
    outcome = o;
  };
}

export function adminRoutes(deps: AdminRoutesDeps): (req: http.IncomingMessage, res: http.ServerResponse) => boolean {
  const expected = deps.token === undefined ? undefined : digest(deps.token);
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path !== '/admin' && !path.startsWith('/admin/')) return false;
    const record = logWhenDone(deps.logger, req, res, path);
    route(req, path, deps, expected, (outcome, status, body, extra) => {
      record(outcome);
      json(res, status, body, extra);
    });
    return true;
  };
}

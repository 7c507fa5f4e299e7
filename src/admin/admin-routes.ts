// /admin/* on the admin listener (SPEC §11): `GET /admin/credentials` (tenants, key ids, effective
// statuses, dates, this replica's lastUsedAt; never hashes) → 200, `POST /admin/idempotency/ack-loss` → 200 {acknowledged} or 503
// IDEMPOTENCY_STORE_UNAVAILABLE, and `POST /admin/reload` → 200 {result: applied|unchanged}, 422
// RELOAD_REFUSED or 502 RELOAD_FAILED with the problems, behind `Authorization: Bearer <admin token>`
// compared in constant time. A missing or wrong token, or more than one Authorization line → 401
// UNAUTHORIZED; a known path with another method → 405 METHOD_NOT_ALLOWED with Allow; any other path →
// 404 NOT_FOUND. Without a token file every /admin/* path answers 404 (disabled). Errors use the §10
// body; every answer carries X-Request-Id. Every /admin/* request is logged once its response is done
// ("admin request": requestId, method, path, status, outcome, peer; info for 2xx, warn for 4xx, error
// for 5xx), never with the Authorization value.
import { createHash, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import type { CredentialsRegistry } from '../credentials/registry.js';
import { effectiveStatus } from '../credentials/effective-status.js';
import { lastUsedAt } from '../credentials/last-use.js';
import type { AdminErrorCode } from '../errors.js';
import { authorizationLineCount, bearerTokenStart } from '../net/authorization.js';
import { newRequestId } from '../pipeline/context.js';
import type { Logger } from '../telemetry/logger.js';
import { json, sendAdminError } from './admin-server.js';

/** What a reload did, and the problems of a document it refused (or why the source could not be read). */
export interface AdminReload {
  readonly result: string;
  readonly problems: readonly string[];
}

export interface AdminRoutesDeps {
  /** undefined = /admin/* disabled */
  readonly token: string | undefined;
  readonly registry: CredentialsRegistry;
  readonly reload: () => Promise<AdminReload>;
  /** acknowledges an idempotency-store loss; false when the store has none to acknowledge (memory) */
  readonly ackLoss: () => Promise<boolean>;
  /** where the "admin request" lines go */
  readonly logger: Logger;
}

/** What became of an admin request, as logged. */
export type AdminOutcome = 'ok' | 'unauthorized' | 'disabled' | 'not_found' | 'method_not_allowed' | 'rejected' | 'error' | 'aborted';

/** The response of one admin request: a success body, or an error in the §10 body. */
interface Answer {
  ok(body: unknown): void;
  fail(outcome: AdminOutcome, code: AdminErrorCode, more?: { headers?: Record<string, string>; fields?: Record<string, unknown> }): void;
}

// Digests of equal length, so timingSafeEqual never throws and length is not revealed either.
const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

function authorized(req: http.IncomingMessage, expected: Buffer): boolean {
  const header = req.headers.authorization ?? '';
  const start = bearerTokenStart(header);
  const token = start < 0 ? '' : header.slice(start);
  // The compare always runs; two Authorization lines are refused even when one holds the token.
  return timingSafeEqual(digest(token), expected) && token !== '' && authorizationLineCount(req.rawHeaders) === 1;
}

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

function credentialsView(registry: CredentialsRegistry): unknown {
  const s = registry.current;
  const now = Date.now();
  if (!s) return { loaded: false, tenants: [], credentials: [] };
  return {
    loaded: true,
    version: s.version,
    loadedAt: new Date(s.loadedAt).toISOString(),
    tenants: [...s.tenants.values()].map((t) => ({ id: t.id, name: t.name ?? null, ipAllowList: t.allowList ? 'restricted' : 'any' })),
    credentials: [...s.byKeyId.values()].map((c) => ({
      keyId: c.keyId,
      tenant: c.tenant.id,
      // status as written (SPEC §11); effectiveStatus as it stands now (SPEC §8 rev 2: a rotated key
      // past grace, any key past expiresAt, reads expired), named as `keys list` names it (§2).
      status: c.status,
      effectiveStatus: effectiveStatus(c, now),
      createdAt: iso(c.createdAt),
      graceUntil: iso(c.graceUntil),
      expiresAt: iso(c.expiresAt),
      lastUsedAt: lastUsedAt(c.lastUse),
      label: c.label ?? null,
    })),
  };
}

function reload(deps: AdminRoutesDeps, answer: Answer): void {
  deps.reload().then(
    ({ result, problems }) => {
      if (result === 'rejected') answer.fail('rejected', 'RELOAD_REFUSED', { fields: { result, problems } });
      else if (result === 'error') answer.fail('error', 'RELOAD_FAILED', { fields: { result, problems } });
      else answer.ok({ result });
    },
    () => answer.fail('error', 'INTERNAL_ERROR'),
  );
}

/** Every admin path, its one method, and what it does. */
const ROUTES: Readonly<Record<string, { readonly method: string; readonly run: (deps: AdminRoutesDeps, answer: Answer) => void }>> = {
  '/admin/credentials': { method: 'GET', run: (deps, answer) => answer.ok(credentialsView(deps.registry)) },
  '/admin/reload': { method: 'POST', run: reload },
  '/admin/idempotency/ack-loss': {
    method: 'POST',
    run: (deps, answer) =>
      deps.ackLoss().then(
        (acknowledged) => answer.ok({ acknowledged }),
        () => answer.fail('error', 'IDEMPOTENCY_STORE_UNAVAILABLE', { fields: { acknowledged: false } }),
      ),
  },
};

function route(req: http.IncomingMessage, path: string, deps: AdminRoutesDeps, expected: Buffer | undefined, answer: Answer): void {
  // Disabled and unauthorized come first: neither reveals which paths or methods exist.
  if (!expected) return answer.fail('disabled', 'NOT_FOUND');
  if (!authorized(req, expected)) return answer.fail('unauthorized', 'UNAUTHORIZED', { headers: { 'www-authenticate': 'Bearer' } });
  const known = Object.hasOwn(ROUTES, path) ? ROUTES[path] : undefined;
  if (!known) return answer.fail('not_found', 'NOT_FOUND');
  if (req.method !== known.method) return answer.fail('method_not_allowed', 'METHOD_NOT_ALLOWED', { headers: { allow: known.method } });
  known.run(deps, answer);
}

/** One line per admin request once the response is done (or the connection went away first). */
function logWhenDone(logger: Logger, req: http.IncomingMessage, res: http.ServerResponse, path: string, requestId: string): (o: AdminOutcome) => void {
  let outcome: AdminOutcome = 'error';
  const peer = req.socket.remoteAddress ?? null; // read now: a closed socket no longer knows it
  res.once('close', () => {
    const finished = res.writableFinished;
    const status = res.headersSent ? res.statusCode : null;
    const fields = { requestId, method: req.method, path, status, outcome: finished ? outcome : 'aborted', peer };
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
    const requestId = newRequestId();
    const record = logWhenDone(deps.logger, req, res, path, requestId);
    route(req, path, deps, expected, {
      ok(body) {
        record('ok');
        json(res, 200, body, { 'x-request-id': requestId });
      },
      fail(outcome, code, more) {
        record(outcome);
        sendAdminError(res, code, requestId, more);
      },
    });
    return true;
  };
}

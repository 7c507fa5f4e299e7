// The admin listener (SPEC §11): /healthz while the process runs (200), /readyz from the readiness
// checks (200, or 503 with the reasons; the body also carries `status`, which never decides it), /metrics for Prometheus (200, 500 when unavailable); other
// methods → 405 METHOD_NOT_ALLOWED with Allow, other paths → 404 NOT_FOUND, in the §10 body. Kept apart from client traffic: it needs no API key and keeps
// answering while the proxy listener drains. /admin/* goes to `routes` (admin-routes.ts), which logs
// every admin request; the probes here are not logged, as they are scraped every second.
import http from 'node:http';
import type { Registry } from 'prom-client';
import { adminError, type AdminErrorCode } from '../errors.js';
import { newRequestId } from '../pipeline/context.js';

/** A readiness check: resolves to a reason when not ready, undefined when ready. */
export type ReadinessCheck = () => Promise<string | undefined> | string | undefined;

export interface AdminDeps {
  readonly registry: Registry;
  readonly readiness: readonly ReadinessCheck[];
  /** more of the /readyz body that does not decide readiness (e.g. the idempotency store's state) */
  readonly status?: () => Promise<Record<string, unknown>>;
  /** extra routes (e.g. /admin/*); return true when handled */
  readonly routes?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
}

/** A JSON answer on the admin listener, never cached. */
export function json(res: http.ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
    ...extra,
  });
  res.end(text);
}

/**
 * An admin error in the §10 body (SPEC §11 rev 2), its requestId also in X-Request-Id. `fields` adds to
 * the body (a refused reload's problems); `headers` to the response (Allow, WWW-Authenticate).
 */
export function sendAdminError(
  res: http.ServerResponse,
  code: AdminErrorCode,
  requestId = newRequestId(),
  more: { readonly headers?: Record<string, string>; readonly fields?: Record<string, unknown> } = {},
): void {
  const { status, message } = adminError(code);
  json(res, status, { code, message, requestId, ...more.fields }, { 'x-request-id': requestId, ...more.headers });
}

/** The probes: every other path of the listener (but /admin/*) is 404. */
const PROBES = new Set(['/healthz', '/readyz', '/metrics']);

async function readiness(checks: readonly ReadinessCheck[]): Promise<string[]> {
  const results = await Promise.all(checks.map(async (c) => c()));
  return results.filter((r): r is string => r !== undefined);
}

export function createAdminServer(deps: AdminDeps): http.Server {
  return http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (deps.routes?.(req, res)) return;
    if (!PROBES.has(path ?? '')) {
      sendAdminError(res, 'NOT_FOUND');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendAdminError(res, 'METHOD_NOT_ALLOWED', undefined, { headers: { allow: 'GET, HEAD' } });
      return;
    }
    if (path === '/healthz') {
      json(res, 200, { status: 'ok' });
    } else if (path === '/readyz') {
      Promise.all([readiness(deps.readiness), deps.status?.() ?? {}]).then(
        ([reasons, status]) => json(res, reasons.length === 0 ? 200 : 503, { ready: reasons.length === 0, reasons, ...status }),
        (err: unknown) => json(res, 503, { ready: false, reasons: [String(err)] }),
      );
    } else {
      deps.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': deps.registry.contentType });
          res.end(text);
        },
        () => sendAdminError(res, 'INTERNAL_ERROR'),
      );
    }
  });
}

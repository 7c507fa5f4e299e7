// The one writer of the proxy's own responses: §10 error bodies and replayed idempotent responses.
// Every response carries this request's X-Request-Id. When the request body has not been read (a
// rejection before forwarding), the connection is closed so the unread body is never parsed as a
// next request and is not drained on the client's behalf.
import { ERROR_CATALOGUE, type ProxyError } from '../errors.js';
import type { RequestContext } from './context.js';

/** A reply produced locally instead of forwarding (an idempotent replay). */
export interface LocalReply {
  readonly status: number;
  /** flat [name, value] pairs */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Buffer;
}

/** The request announced a body that has not been read to the end. */
function bodyPending(ctx: RequestContext): boolean {
  const { req } = ctx;
  if (req.complete) return false;
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function closeIfBodyPending(ctx: RequestContext, headers: Record<string, string | number>): void {
  if (bodyPending(ctx)) headers['connection'] = 'close';
}

export function sendError(ctx: RequestContext, err: ProxyError): void {
  ctx.outcome = err.code;
  if (err.reason !== undefined) ctx.reason = err.reason;
  const { res } = ctx;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ code: err.code, message: ERROR_CATALOGUE[err.code].message, requestId: ctx.requestId });
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(body),
    'x-request-id': ctx.requestId,
  };
  if (err.status === 401) headers['www-authenticate'] = 'Bearer';
  if (err.retryAfter !== undefined) headers['retry-after'] = err.retryAfter;
  if (err.headers) Object.assign(headers, err.headers);
  closeIfBodyPending(ctx, headers);
  res.writeHead(err.status, headers);
  res.end(ctx.req.method === 'HEAD' ? undefined : body);
}

export function sendLocal(ctx: RequestContext, reply: LocalReply, extra: Record<string, string>): void {
  const { res } = ctx;
  const flat: string[] = [];
  for (const [name, value] of reply.headers) flat.push(name, value);
  for (const [name, value] of Object.entries(extra)) flat.push(name, value);
  flat.push('content-length', String(reply.body.length), 'x-request-id', ctx.requestId);
  if (bodyPending(ctx)) flat.push('connection', 'close');
  res.writeHead(reply.status, flat);
  res.end(ctx.req.method === 'HEAD' ? undefined : reply.body);
}

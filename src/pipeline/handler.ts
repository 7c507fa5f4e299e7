// The stage runner: the connection's turn (pipelined requests wait, see connection-turn.ts) →
// context → checks (auth, allowlist, target, permissions, header stamping) → the terminal step
// (idempotency around forwarding, or plain forwarding) → the access line and metrics once the
// response is over. Stages throw ProxyError; only reply.ts writes local responses.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ProxyError } from '../errors.js';
import type { AccessLog, Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { CredentialsRegistry } from '../credentials/registry.js';
import { createContext, type RequestContext } from './context.js';
import { sendError } from './reply.js';
import { recordAccess } from './access-log.js';
import { afterTurn, turnOf } from './connection-turn.js';

/**
 * A check: returns to continue, throws ProxyError to refuse. A stage that must ask a store (a shared
 * rate limit) returns a promise; the runner awaits only those, so an all-memory path allocates none.
 */
export type Stage = (ctx: RequestContext) => void | Promise<void>;
/**
 * What runs after the checks pass: produces the response (forwarded, replayed or an error). The plain
 * forwarding path returns nothing (no promise per request); the idempotency path returns its promise.
 */
export type Terminal = (ctx: RequestContext) => Promise<void> | void;

export interface HandlerDeps {
  readonly registry: CredentialsRegistry;
  readonly stages: readonly Stage[];
  readonly terminal: Terminal;
  readonly logger: Logger;
  readonly accessLog: AccessLog;
  readonly metrics: Metrics;
  /** the listener stopped accepting (SPEC §12): every request gets 503 and `Connection: close` */
  readonly isClosing: () => boolean;
  /** server.maxHeaderCount: more header lines get 431 before any check runs (SPEC §7) */
  readonly maxHeaderCount: number;
}

export function fail(ctx: RequestContext, err: unknown, logger: Logger): void {
  if (err instanceof ProxyError) {
    sendError(ctx, err);
    return;
  }
  // A bug, not a client error: answered as an unknown upstream outcome would be wrong, so 503.
  logger.error({ requestId: ctx.requestId, err }, 'unexpected error in request pipeline');
  sendError(ctx, new ProxyError('SERVICE_UNAVAILABLE', 'internal_error'));
}

export function createHandler(deps: HandlerDeps): (req: IncomingMessage, res: ServerResponse, expectContinue: boolean) => void {
  const { registry } = deps;
  return (req, res, expectContinue) => {
    const turn = turnOf(res);
    if (turn === 'now') handle(deps, createContext(req, res, registry.current, expectContinue));
    else if (turn === 'closed') drop(deps, req, res, expectContinue);
    else {
      // The snapshot is taken when the request's turn comes: a pipelined request never runs on an older one.
      afterTurn(
        turn,
        res,
        () => handle(deps, createContext(req, res, registry.current, expectContinue)),
        () => drop(deps, req, res, expectContinue),
      );
    }
  };
}

/**
 * Never processed: the connection closes before an answer could be written. Logged at once, not
 * answered (a response queued behind the last one may never see its own 'close').
 */
function drop(deps: HandlerDeps, req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void {
  const ctx = createContext(req, res, deps.registry.current, expectContinue);
  ctx.outcome = 'not_processed';
  ctx.reason = 'connection_closing';
  recordAccess(ctx, deps.accessLog, deps.metrics, deps.logger);
}

function handle(deps: HandlerDeps, ctx: RequestContext): void {
  const { accessLog, metrics, logger } = deps;
  const { req, res } = ctx;
  const inFlight = metrics.inFlight;
  inFlight.requests++;
  // `on`, not `once`: a response closes once, and once() would wrap the listener on every request.
  res.on('close', () => {
    inFlight.requests--;
    recordAccess(ctx, accessLog, metrics, logger);
  });
  const closing = deps.isClosing();
  // A draining listener takes no new connections: whatever this answer is, the client is to reconnect
  // (to another replica) for its next request rather than find this connection closed under it.
  if (closing) res.shouldKeepAlive = false;
  // First of all: a header list that may have been cut. Node drops lines past its count silently
  // while its parser still obeys a Content-Length or Transfer-Encoding among them, so no check may
  // run on what JavaScript sees. The connection is closed: its framing is not to be trusted.
  if (ctx.headerLines > deps.maxHeaderCount) {
    res.setHeader('connection', 'close');
    sendError(ctx, new ProxyError('BAD_REQUEST', 'too_many_headers', undefined, 431));
    return;
  }
  // Framing before everything: HTTP/1.1 needs exactly one Host (RFC 9112 §3.2), and a request
  // whose authority is ambiguous is not checked or forwarded at all.
  // HTTP/0.9-style request lines (no version) are parsed by Node yet never legitimate here.
  if (req.httpVersionMajor !== 1 || ctx.hostLines > 1 || (ctx.hostLines === 0 && req.httpVersionMinor !== 0)) {
    sendError(ctx, new ProxyError('BAD_REQUEST', 'host_header'));
    return;
  }
  if (closing || !ctx.snapshot) {
    sendError(ctx, new ProxyError('SERVICE_UNAVAILABLE', closing ? 'draining' : 'no_credentials', 1));
    return;
  }
  runStages(deps, ctx, 0);
}

/** Runs the stages from index `from`, then the terminal; any refusal or bug is answered by fail(). */
function runStages(deps: HandlerDeps, ctx: RequestContext, from: number): void {
  const { stages, terminal, logger } = deps;
  let running: Promise<void> | void;
  try {
    for (let i = from; i < stages.length; i++) {
      const pending = (stages[i] as Stage)(ctx);
      if (pending !== undefined) {
        pending.then(
          () => runStages(deps, ctx, i + 1),
          (err: unknown) => fail(ctx, err, logger),
        );
        return;
      }
    }
    running = terminal(ctx);
  } catch (err) {
    fail(ctx, err, logger);
    return;
  }
  running?.catch((err: unknown) => fail(ctx, err, logger));
}

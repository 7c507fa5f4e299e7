// Late answers (SPEC §9 rev 2). A claimed request that timed out after it was sent is answered 504 and
// stored as UPSTREAM_TIMEOUT, but the upstream may still be working on it: its exchange is kept open
// for `lateResponseWindow`, and a complete answer arriving within it is handed to the idempotency
// terminal, which stores it in place of the timeout. Only an exchange whose response has not begun is
// kept (one cut mid-body stays cut). Raises nothing: an exchange that ends without an answer, or
// outlives the window, is simply dropped and the timeout stands.
import type http from 'node:http';
import { responseHeaders } from './response-headers.js';
import { captureBody } from './response-relay.js';

/** The upstream's late answer, as the relay would have shaped it. */
export interface LateAnswer {
  readonly status: number;
  /** flat name/value list, hop-by-hop dropped */
  readonly headers: readonly string[];
  /** undefined when it exceeded the capture limit */
  readonly body: Buffer | undefined;
}

export interface LateAnswerOptions {
  /** how long after the timeout an answer is still taken */
  readonly windowMs: number;
  readonly answered: (answer: LateAnswer) => void;
}

interface Waiting {
  readonly options: LateAnswerOptions;
  readonly captureBytes: number;
  readonly requestId: string;
}

// Kept on the client request, which http-proxy-3 hands back with the upstream response.
const LATE = Symbol('custody-proxy.late');
type WithLate = http.IncomingMessage & { [LATE]?: Waiting | undefined };

/** Keeps `proxyReq` open for the window; past it the upstream request is cut. */
export function awaitLateAnswer(req: http.IncomingMessage, proxyReq: http.ClientRequest, options: LateAnswerOptions, captureBytes: number, requestId: string): void {
  const timer = setTimeout(() => {
    (req as WithLate)[LATE] = undefined;
    proxyReq.destroy();
  }, options.windowMs);
  // a late exchange alone never holds a shutting-down process open
  timer.unref();
  // closes when the exchange is over, answered or not: nothing is left to wait for
  proxyReq.once('close', () => {
    clearTimeout(timer);
    (req as WithLate)[LATE] = undefined;
  });
  (req as WithLate)[LATE] = { options, captureBytes, requestId };
}

/** Takes the upstream response of a request kept open after its timeout; false when there is none. */
export function takeLateAnswer(req: http.IncomingMessage, proxyRes: http.IncomingMessage): boolean {
  const waiting = (req as WithLate)[LATE];
  if (!waiting) return false;
  (req as WithLate)[LATE] = undefined;
  const status = proxyRes.statusCode ?? 502;
  const headers = responseHeaders(proxyRes.rawHeaders, waiting.requestId);
  const body = captureBody(proxyRes, waiting.captureBytes);
  proxyRes.on('end', () => waiting.options.answered({ status, headers, body: body() }));
  // The window still bounds the body: its timer destroys proxyReq, and this response closes incomplete.
  return true;
}

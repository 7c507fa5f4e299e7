// The terminal step for requests that skip idempotency: forward and, on failure, answer with the
// mapped §10 error (or cut the connection when the response had already started).
import { ProxyError } from '../errors.js';
import type { RequestContext } from '../pipeline/context.js';
import type { Terminal } from '../pipeline/handler.js';
import { sendError } from '../pipeline/reply.js';
import type { Forwarder, ForwardOutcome } from './forwarder.js';

/** Turns a failed outcome into the client's answer; true when it did. */
export function answerFailure(ctx: RequestContext, outcome: ForwardOutcome): boolean {
  if (outcome.kind !== 'failed') return false;
  const { failure } = outcome;
  if (failure.reason === 'client_closed') {
    ctx.outcome = 'client_closed';
    return true;
  }
  sendError(ctx, new ProxyError(failure.code, failure.reason));
  return true;
}

export function forwardTerminal(forwarder: Forwarder): Terminal {
  return (ctx) =>
    forwarder.forward(ctx).then((outcome) => {
      answerFailure(ctx, outcome);
    });
}

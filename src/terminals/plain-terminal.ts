// The terminal step for requests that skip idempotency: forward and, on failure, answer with the
// mapped §10 error (or cut the connection when the response had already started).
import { ProxyError } from '../errors.js';
import type { RequestContext } from '../pipeline/context.js';
import type { Terminal } from '../pipeline/handler.js';
import { sendError } from '../pipeline/reply.js';
import type { Forwarder, ForwardOptions, ForwardOutcome } from '../forward/forwarder.js';

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

const STREAMED: ForwardOptions = Object.freeze({ detached: false });

/** `onError` gets what answering the outcome threw (a bug): the outcome arrives from an event, not a promise. */
export function forwardTerminal(forwarder: Forwarder, onError: (ctx: RequestContext, err: unknown) => void): Terminal {
  const answer = (outcome: ForwardOutcome, ctx: RequestContext): void => {
    try {
      answerFailure(ctx, outcome);
    } catch (err) {
      onError(ctx, err);
    }
  };
  return (ctx) => forwarder.start(ctx, STREAMED, answer);
}

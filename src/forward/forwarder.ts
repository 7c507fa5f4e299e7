// The exchange with the upstream: starts it through the http-proxy-3 adapter, bounds it by the whole-
// response timeout (deadline-queue) and the connect timeout, relays the answer (response-relay), and
// reports how it ended exactly once. Raises, through the outcome, 502 UPSTREAM_UNAVAILABLE (never
// sent) or UPSTREAM_OUTCOME_UNKNOWN (sent, then cut) and 504 UPSTREAM_TIMEOUT.
import type http from 'node:http';
import { continueBody, type RequestContext } from '../pipeline/context.js';
import { DeadlineQueue, type Deadlined } from './deadline-queue.js';
import { HttpProxyAdapter } from './http-proxy-adapter.js';
import { awaitLateAnswer, takeLateAnswer, type LateAnswerOptions } from './late-answer.js';
import { relayResponse, type RelayEvents, type RelayedResponse } from './response-relay.js';
import { CONNECT_TIMEOUT, UPSTREAM_TIMEOUT, UpstreamTimeoutError, classifyUpstreamError, type UpstreamFailure } from './upstream-error.js';

export type ForwardOptions =
  /** the request body streams from the client; the exchange ends if the client goes away */
  | { readonly detached: false }
  /**
   * A claimed idempotent request: its body was already read, the exchange survives its client (the
   * upstream response is read to the end so the record can be completed and a retry replayed), and up
   * to `captureBytes` of the response body are captured.
   */
  | {
    readonly detached: true;
    readonly body: Buffer;
    readonly captureBytes: number;
    /** after a timeout with the request sent and no answer begun, keep waiting for the answer (late-answer.ts) */
    readonly late?: LateAnswerOptions | undefined;
  };

export type ForwardOutcome =
  /** detached: `finish` ends the client's response, held back until the record is settled */
  | RelayedResponse
  | { readonly kind: 'failed'; readonly failure: UpstreamFailure };

/** Receives an exchange's outcome, exactly once. */
export type OutcomeHandler = (outcome: ForwardOutcome, ctx: RequestContext) => void;

interface Exchange extends Deadlined<Exchange> {
  readonly ctx: RequestContext;
  readonly options: ForwardOptions;
  readonly done: OutcomeHandler;
  connected: boolean;
  proxyReq: http.ClientRequest | undefined;
  settled: boolean;
}

/** The exchange a request is in, kept on the request itself (a WeakMap cost a hash lookup and an ephemeron per request). */
const EXCHANGE = Symbol('custody-proxy.exchange');
type Exchanged = http.IncomingMessage & { [EXCHANGE]?: Exchange | undefined };
const exchangeOf = (req: http.IncomingMessage): Exchange | undefined => (req as Exchanged)[EXCHANGE];

export interface ForwarderConfig {
  readonly url: URL;
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  /** upstream.caFile's bytes: the only CAs an https:// upstream may chain to */
  readonly ca?: Buffer | undefined;
}

export class Forwarder {
  private readonly adapter: HttpProxyAdapter;
  /** the upstream URL's path, without a trailing slash, prefixed to every target */
  private readonly basePath: string;
  private readonly deadlines = new DeadlineQueue<Exchange>((x) => this.abort(x, UPSTREAM_TIMEOUT));
  private readonly relayed: RelayEvents<Exchange> = {
    ended: (x, response) => this.settle(x, response),
    cut: (x) => this.onError(x, Object.assign(new Error('upstream response cut'), { code: 'ECONNRESET' })),
  };

  constructor(private readonly config: ForwarderConfig) {
    this.basePath = config.url.pathname.replace(/\/+$/, '');
    this.adapter = new HttpProxyAdapter(config.url, {
      onProxyReq: (proxyReq, req) => this.onProxyReq(proxyReq, req),
      onProxyRes: (proxyRes, req) => this.onProxyRes(proxyRes, req),
      onError: (err, req) => {
        const x = exchangeOf(req);
        if (x) this.onError(x, err);
      },
    }, config.ca);
  }

  /** start() as a promise (the idempotency path awaits it). */
  forward(ctx: RequestContext, options: ForwardOptions): Promise<ForwardOutcome> {
    return new Promise((resolve) => this.start(ctx, options, resolve));
  }

  /** Starts the exchange; `done` gets its outcome once. The plain path calls this: no promise per request. */
  start(ctx: RequestContext, options: ForwardOptions, done: OutcomeHandler): void {
    const now = performance.now();
    const x: Exchange = {
      ctx,
      options,
      done,
      connected: false,
      proxyReq: undefined,
      settled: false,
      deadline: now + this.config.timeoutMs,
      prev: undefined,
      next: undefined,
      queued: false,
    };
    (ctx.req as Exchanged)[EXCHANGE] = x;
    this.deadlines.add(x);
    ctx.upstreamStartedAt = now;
    continueBody(ctx);
    const path = this.basePath + ctx.target;
    if (options.detached) {
      this.adapter.sendDetached(ctx.req, options.body, path);
      return;
    }
    this.adapter.sendStreamed(ctx.req, ctx.res, path);
    // A client that goes away mid-exchange: http-proxy-3 destroys the upstream request itself.
    ctx.res.on('close', () => {
      if (!x.settled) this.settle(x, { kind: 'failed', failure: { code: 'UPSTREAM_OUTCOME_UNKNOWN', sent: x.connected, reason: 'client_closed' } });
    });
  }

  private onProxyReq(proxyReq: http.ClientRequest, req: http.IncomingMessage): void {
    const x = exchangeOf(req);
    // No entry: the exchange was already settled (timed out or failed); nobody waits for it.
    if (!x) {
      proxyReq.destroy();
      return;
    }
    x.proxyReq = proxyReq;
    // The target exactly as checked: http-proxy-3's urlJoin drops an empty query (`/a?` → `/a`).
    // 'socket' is emitted before the first body write, so the request line is not stored yet (the
    // adapter's body stand-ins set the path themselves when they write at once).
    if (!proxyReq.headersSent) proxyReq.path = this.basePath + x.ctx.target;
    const socket = proxyReq.socket;
    if (socket && socket.connecting) {
      const t = setTimeout(() => this.abort(x, CONNECT_TIMEOUT), this.config.connectTimeoutMs);
      // An https:// upstream is connected once its certificate is verified: a refused certificate
      // means nothing was sent (UPSTREAM_UNAVAILABLE, safe to retry), and connectTimeout covers the handshake.
      socket.once('encrypted' in socket ? 'secureConnect' : 'connect', () => {
        clearTimeout(t);
        x.connected = true;
      });
      socket.once('close', () => clearTimeout(t));
    } else {
      x.connected = true;
    }
  }

  private abort(x: Exchange, code: typeof UPSTREAM_TIMEOUT | typeof CONNECT_TIMEOUT): void {
    if (x.settled) return;
    const err = new UpstreamTimeoutError(code);
    const o = x.options;
    if (o.detached && o.late && code === UPSTREAM_TIMEOUT && x.connected && x.proxyReq && !x.ctx.res.headersSent) {
      // Answered 504 now; the upstream request stays open and its answer, if it comes, is stored later.
      awaitLateAnswer(x.ctx.req, x.proxyReq, o.late, o.captureBytes, x.ctx.requestId);
      this.onError(x, err);
    } else if (x.ctx.res.headersSent) {
      // Already streaming: the client sees a cut connection, never a truncated body passed off as whole.
      x.ctx.res.destroy();
      x.proxyReq?.destroy();
      this.onError(x, err);
    } else if (x.proxyReq) {
      x.proxyReq.destroy(err);
    } else {
      this.onError(x, err);
    }
  }

  private onError(x: Exchange, err: unknown): void {
    if (x.settled) return;
    this.settle(x, { kind: 'failed', failure: classifyUpstreamError(err, x.connected || x.proxyReq?.reusedSocket === true) });
  }

  private onProxyRes(proxyRes: http.IncomingMessage, req: http.IncomingMessage): void {
    const x = exchangeOf(req);
    if (!x || x.settled) {
      if (!takeLateAnswer(req, proxyRes)) proxyRes.resume();
      return;
    }
    x.connected = true;
    // Settled when the upstream's answer is complete, whatever the client does after: an idempotent
    // record can be completed even if this client has gone away.
    const capture = x.options.detached ? x.options.captureBytes : undefined;
    relayResponse(proxyRes, x.ctx.res, x.ctx.requestId, capture, x, this.relayed);
  }

  private settle(x: Exchange, outcome: ForwardOutcome): void {
    if (x.settled) return;
    x.settled = true;
    this.deadlines.remove(x);
    const { ctx } = x;
    // Dropped at once: the request would otherwise keep the exchange (and its outcome) alive as long as itself.
    (ctx.req as Exchanged)[EXCHANGE] = undefined;
    if (ctx.upstreamStartedAt !== undefined) ctx.upstreamMs = performance.now() - ctx.upstreamStartedAt;
    x.done(outcome, ctx);
  }

  close(): void {
    this.deadlines.close();
    this.adapter.close();
  }
}

// Forwards a checked request with http-proxy-3 over one keep-alive agent, and writes the upstream
// response back itself (selfHandleResponse) so hop-by-hop headers are dropped, X-Request-Id is set,
// and the body can be captured for idempotency. Raises 502 UPSTREAM_UNAVAILABLE or
// UPSTREAM_OUTCOME_UNKNOWN and 504 UPSTREAM_TIMEOUT (whole response) through the returned outcome.
import http from 'node:http';
import https from 'node:https';
import type { Readable, Stream, Writable } from 'node:stream';
import { createProxyServer, type ProxyServer, type ServerOptions } from 'http-proxy-3';
import { continueBody, type RequestContext } from '../pipeline/context.js';
import { responseHeaders } from './response-headers.js';
import {
  CONNECT_TIMEOUT,
  UPSTREAM_TIMEOUT,
  UpstreamTimeoutError,
  classifyUpstreamError,
  type UpstreamFailure,
} from './upstream-error.js';

export interface ForwardOptions {
  /**
   * The already-read request body of a claimed idempotent request; otherwise the request stream is
   * piped. With a body the exchange is detached from the client: if the client goes away the upstream
   * response is still read to the end, so the record can be completed and a retry replayed.
   */
  readonly body?: Buffer;
  /** capture up to this many response body bytes */
  readonly captureBytes?: number;
}

export type ForwardOutcome =
  | {
      readonly kind: 'response';
      readonly status: number;
      readonly headers: readonly string[];
      /** undefined when not captured, or when the body exceeded captureBytes */
      readonly body: Buffer | undefined;
      /**
       * With a body (claimed exchange) the last chunk is held back: the client's response ends only when
       * this is called, after the idempotency record is settled. Without a body it does nothing.
       */
      readonly finish?: () => void;
    }
  | { readonly kind: 'failed'; readonly failure: UpstreamFailure };

/** Receives an exchange's outcome, exactly once. */
export type OutcomeHandler = (outcome: ForwardOutcome, ctx: RequestContext) => void;

interface Pending {
  readonly ctx: RequestContext;
  readonly options: ForwardOptions;
  readonly done: OutcomeHandler;
  connected: boolean;
  proxyReq: http.ClientRequest | undefined;
  settled: boolean;
  /** performance.now() after which the exchange is aborted with UPSTREAM_TIMEOUT */
  readonly deadline: number;
  /** the in-flight list, oldest first (see track) */
  prev: Pending | undefined;
  next: Pending | undefined;
  tracked: boolean;
}

/** The exchange a request is in, kept on the request itself (a WeakMap cost a hash lookup and an ephemeron per request). */
const EXCHANGE = Symbol('custody-proxy.exchange');
type Exchanged = http.IncomingMessage & { [EXCHANGE]?: Pending | undefined };

export interface ForwarderConfig {
  readonly url: URL;
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
}

/** http-proxy-3's `stream` pass: it builds the upstream request and pipes the body (passes/web-incoming). */
type StreamPass = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  options: ServerOptions,
  head: undefined,
  server: ProxyServer,
  callback: (err: Error, req: http.IncomingMessage) => void,
) => unknown;

// Only the `stream` pass is run, called directly with options built once. The others do nothing wanted
// here: `timeout` and `XHeaders` are off, and `deleteLength` is harmful (it turns a chunked DELETE or
// OPTIONS into `Content-Length: 0` while still streaming the body after it: the upstream would parse
// those bytes as a second, unchecked request). And web() copies every option into a new object for each
// request, which cost more than the passes themselves.
function streamPass(proxy: ProxyServer): StreamPass {
  const passes = (proxy as unknown as { webPasses?: ReadonlyArray<{ name: string }> }).webPasses;
  const pass = passes?.find((p) => p.name === 'stream');
  if (typeof pass !== 'function') throw new Error('http-proxy-3 internals changed: stream pass not found');
  return pass as unknown as StreamPass;
}

// What http-proxy-3's stream pass touches on the response it is given: `on('close')` (to abort the
// upstream request when the client leaves), `headersSent` and `finished`. A claimed exchange must
// survive its client, so it gets this inert stand-in, shared by all of them: it never closes, so it
// never aborts anything, and it keeps no listeners. (A real ServerResponse per request cost a
// constructor, listeners and garbage on every keyed POST.) Every keyed request in the idempotency
// tests goes through it, so a http-proxy-3 that needs more of it fails them.
const DETACHED_RESPONSE = Object.freeze({
  headersSent: false,
  finished: false,
  writableFinished: false,
  on(): unknown {
    return DETACHED_RESPONSE;
  },
}) as unknown as http.ServerResponse;

/**
 * http-proxy-3 sends `options.buffer` with `.pipe(proxyReq)`. A body already in memory is written in one
 * call, without a Readable and its per-request listeners and ticks. That call stores the request line,
 * so the checked path is set first (onProxyReq comes too late for this request).
 */
function bufferedBody(body: Buffer, path: string): Stream {
  return {
    pipe(destination: http.ClientRequest): http.ClientRequest {
      destination.path = path;
      destination.end(body);
      return destination;
    },
  } as unknown as Stream;
}

/**
 * One chunk from `from` to `to` with back-pressure: `from` pauses until `to` drains. Nothing is written
 * to a destination that is already destroyed (its side of the exchange is over; the chunk is dropped).
 */
function passOn(from: Readable, to: Writable, chunk: Buffer): void {
  if (!to.destroyed && !to.write(chunk)) {
    from.pause();
    to.once('drain', () => from.resume());
  }
}

/**
 * The request body, forwarded with one 'data' and one 'end' listener instead of req.pipe(proxyReq),
 * which adds and later removes about ten listeners on the two streams per request. The same
 * back-pressure. http-proxy-3 calls `options.buffer.pipe(proxyReq)` synchronously inside the stream pass,
 * so the request it belongs to is handed over in `source` just before that call.
 *
 * A request whose upstream headers declare no body (neither Content-Length nor Transfer-Encoding, as
 * stamp-headers set them) is ended at once and its body, if Node's parser found one, is never read:
 * Node sends a GET, HEAD, DELETE, OPTIONS or TRACE without framing, so bytes written after it would be
 * parsed by the upstream as a second, unchecked request (SPEC §7). A body travels only with the framing
 * the proxy itself set; Node discards the unread rest once the response is over.
 */
const streamedBody = {
  source: undefined as http.IncomingMessage | undefined,
  /** the checked path, set here for a bodyless request: end() stores the request line at once */
  path: '',
  pipe(destination: http.ClientRequest): http.ClientRequest {
    const req = streamedBody.source;
    if (!req) throw new Error('streamedBody used outside Forwarder.start');
    streamedBody.source = undefined;
    const { headers } = req;
    const length = headers['content-length'];
    if ((length === undefined || length === '0') && headers['transfer-encoding'] === undefined) {
      destination.path = streamedBody.path;
      destination.end();
      return destination;
    }
    req.on('data', (chunk: Buffer) => passOn(req, destination, chunk));
    req.on('end', () => destination.end());
    return destination;
  },
};

/**
 * The upstream as a plain object with the fields http-proxy-3's setupOutgoing reads on every request
 * (protocol, host, hostname, port, href). On a URL each of those is a getter call, and the option names
 * it copies that a URL lacks (key, cert, ca…) are looked up along URL's prototype chain.
 */
function detailedTarget(url: URL): NonNullable<ServerOptions['target']> {
  return Object.freeze({
    protocol: url.protocol,
    host: url.host,
    hostname: url.hostname,
    port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
    href: url.href,
  });
}

export class Forwarder {
  private readonly agent: http.Agent;
  private readonly proxy: ProxyServer;
  private readonly stream: StreamPass;
  /** what every exchange without a buffered body passes to the stream pass */
  private readonly options: ServerOptions;
  /** the same, with the request body forwarded by streamedBody */
  private readonly streamed: ServerOptions;
  /** the upstream URL's path, without a trailing slash, prefixed to every target */
  private readonly basePath: string;
  // Every exchange has the same timeout, so deadlines grow in start order: the in-flight exchanges form a
  // queue, oldest first, and one timer armed for the oldest serves them all (not a setTimeout per request).
  private head: Pending | undefined;
  private tail: Pending | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(private readonly config: ForwarderConfig) {
    this.basePath = config.url.pathname.replace(/\/+$/, '');
    const Agent = config.url.protocol === 'https:' ? https.Agent : http.Agent;
    this.agent = new Agent({ keepAlive: true, scheduling: 'lifo', maxFreeSockets: 256 });
    this.options = {
      target: detailedTarget(config.url),
      agent: this.agent,
      selfHandleResponse: true,
      // keeps req.url as sent: without it http-proxy-3 re-parses and normalises the path
      toProxy: true,
      // The path is set in onProxyReq (and bufferedBody) from basePath + the checked target; without
      // this http-proxy-3 parses the target's own path with new URL() on every request, for nothing.
      prependPath: false,
      xfwd: false,
      ws: false,
    };
    this.streamed = { ...this.options, buffer: streamedBody as unknown as Stream };
    this.proxy = createProxyServer(this.options);
    this.stream = streamPass(this.proxy);
    this.proxy.on('proxyReq', (proxyReq, req) => this.onProxyReq(proxyReq, req));
    this.proxy.on('proxyRes', (proxyRes, req) => this.onProxyRes(proxyRes, req));
  }

  /** start() as a promise (the idempotency path awaits it). */
  forward(ctx: RequestContext, options: ForwardOptions = {}): Promise<ForwardOutcome> {
    return new Promise((resolve) => this.start(ctx, options, resolve));
  }

  /** Starts the exchange; `done` gets its outcome once. The plain path calls this: no promise per request. */
  start(ctx: RequestContext, options: ForwardOptions, done: OutcomeHandler): void {
    const now = performance.now();
    const p: Pending = {
      ctx,
      options,
      done,
      connected: false,
      proxyReq: undefined,
      settled: false,
      deadline: now + this.config.timeoutMs,
      prev: undefined,
      next: undefined,
      tracked: false,
    };
    (ctx.req as Exchanged)[EXCHANGE] = p;
    this.track(p);
    ctx.upstreamStartedAt = now;
    continueBody(ctx);
    if (options.body) {
      // http-proxy-3 aborts the upstream request when the response it was given closes; a stand-in
      // that never closes keeps a claimed exchange running after its client has gone.
      const buffered = { ...this.options, buffer: bufferedBody(options.body, this.basePath + ctx.target) };
      this.stream(ctx.req, DETACHED_RESPONSE, buffered, undefined, this.proxy, this.onStreamError);
      return;
    }
    streamedBody.source = ctx.req;
    streamedBody.path = this.basePath + ctx.target;
    try {
      this.stream(ctx.req, ctx.res, this.streamed, undefined, this.proxy, this.onStreamError);
    } finally {
      // also when http.request() threw before the body was piped: no request is kept for the next one
      streamedBody.source = undefined;
    }
    // A client that goes away mid-exchange: http-proxy-3 destroys the upstream request itself.
    ctx.res.on('close', () => {
      if (!p.settled) this.settle(p, { kind: 'failed', failure: { code: 'UPSTREAM_OUTCOME_UNKNOWN', sent: p.connected, reason: 'client_closed' } });
    });
  }

  private track(p: Pending): void {
    p.tracked = true;
    p.prev = this.tail;
    if (this.tail) this.tail.next = p;
    else this.head = p;
    this.tail = p;
    if (!this.sweepTimer) this.armSweep(p.deadline - performance.now());
  }

  private untrack(p: Pending): void {
    if (!p.tracked) return;
    p.tracked = false;
    if (p.prev) p.prev.next = p.next;
    else this.head = p.next;
    if (p.next) p.next.prev = p.prev;
    else this.tail = p.prev;
    p.prev = undefined;
    p.next = undefined;
  }

  private armSweep(ms: number): void {
    // unref: an armed sweep alone never keeps the process up (the exchanges' sockets do that).
    this.sweepTimer = setTimeout(() => this.sweep(), Math.max(1, Math.ceil(ms)));
    this.sweepTimer.unref();
  }

  private sweep(): void {
    this.sweepTimer = undefined;
    const now = performance.now();
    for (let p = this.head; p && p.deadline <= now; p = this.head) {
      this.untrack(p);
      this.abort(p, UPSTREAM_TIMEOUT);
    }
    if (this.head) this.armSweep(this.head.deadline - now);
  }

  private onProxyReq(proxyReq: http.ClientRequest, req: http.IncomingMessage): void {
    const p = (req as Exchanged)[EXCHANGE];
    // No entry: the exchange was already settled (timed out or failed); nobody waits for it.
    if (!p) {
      proxyReq.destroy();
      return;
    }
    p.proxyReq = proxyReq;
    // The target exactly as checked: http-proxy-3's urlJoin drops an empty query (`/a?` → `/a`).
    // 'socket' is emitted before the first body write, so the request line is not stored yet (a
    // buffered body is written at once: bufferedBody sets the path itself).
    if (!proxyReq.headersSent) proxyReq.path = this.basePath + p.ctx.target;
    const socket = proxyReq.socket;
    if (socket && socket.connecting) {
      const t = setTimeout(() => this.abort(p, CONNECT_TIMEOUT), this.config.connectTimeoutMs);
      socket.once('connect', () => {
        clearTimeout(t);
        p.connected = true;
      });
      socket.once('close', () => clearTimeout(t));
    } else {
      p.connected = true;
    }
  }

  private abort(p: Pending, code: typeof UPSTREAM_TIMEOUT | typeof CONNECT_TIMEOUT): void {
    if (p.settled) return;
    const err = new UpstreamTimeoutError(code);
    if (p.ctx.res.headersSent) {
      // Already streaming: the client sees a cut connection, never a truncated body passed off as whole.
      p.ctx.res.destroy();
      p.proxyReq?.destroy();
      this.onError(p, err);
    } else if (p.proxyReq) {
      p.proxyReq.destroy(err);
    } else {
      this.onError(p, err);
    }
  }

  /** http-proxy-3's error callback, one for all exchanges (it passes the request back): no closure per request. */
  private readonly onStreamError = (err: Error, req: http.IncomingMessage): void => {
    const p = (req as Exchanged)[EXCHANGE];
    if (p) this.onError(p, err);
  };

  private onError(p: Pending, err: unknown): void {
    if (p.settled) return;
    this.settle(p, { kind: 'failed', failure: classifyUpstreamError(err, p.connected || p.proxyReq?.reusedSocket === true) });
  }

  private onProxyRes(proxyRes: http.IncomingMessage, req: http.IncomingMessage): void {
    const p = (req as Exchanged)[EXCHANGE];
    if (!p || p.settled) {
      proxyRes.resume();
      return;
    }
    const { ctx } = p;
    p.connected = true;
    const status = proxyRes.statusCode ?? 502;
    const headers = responseHeaders(proxyRes.rawHeaders, ctx.requestId);
    const limit = p.options.captureBytes;
    const chunks: Buffer[] | undefined = limit === undefined ? undefined : [];
    let captured = 0;
    let overflow = false;
    if (chunks) {
      proxyRes.on('data', (chunk: Buffer) => {
        captured += chunk.length;
        if (captured > (limit ?? 0)) overflow = true;
        else chunks.push(chunk);
      });
    }
    // Settled when the upstream's answer is complete, whatever the client does after: an idempotent
    // record can be completed even if this client has gone away.
    let finish = (): void => {};
    const plain = !p.options.body;
    proxyRes.on('end', () => {
      const body = chunks && !overflow ? Buffer.concat(chunks, captured) : undefined;
      this.settle(p, { kind: 'response', status, headers, body, finish });
      if (plain && !ctx.res.destroyed && !ctx.res.writableEnded) ctx.res.end();
    });
    proxyRes.on('close', () => {
      if (!proxyRes.complete) this.onError(p, Object.assign(new Error('upstream response cut'), { code: 'ECONNRESET' }));
    });
    if (ctx.res.destroyed) {
      proxyRes.resume();
      return;
    }
    ctx.res.writeHead(status, proxyRes.statusMessage, headers);
    const res = ctx.res;
    if (plain) {
      // Streamed with one listener instead of pipe(), which adds and later removes seven on the two
      // streams per response. The same back-pressure; the end is written by the 'end' listener above.
      proxyRes.on('data', (chunk: Buffer) => passOn(proxyRes, res, chunk));
      return;
    }
    // Claimed exchange: the last chunk waits for finish(), called once the record is settled, so a client
    // never holds the whole response while a duplicate (on any replica) could still find the key in flight.
    let held: Buffer | undefined;
    proxyRes.on('data', (chunk: Buffer) => {
      const ready = held;
      held = chunk;
      if (ready) passOn(proxyRes, res, ready);
    });
    // Detached: a client that leaves never stops the upstream response from being read to the end.
    res.once('close', () => proxyRes.resume());
    finish = () => {
      if (!res.destroyed && !res.writableEnded) res.end(held);
    };
  }

  private settle(p: Pending, outcome: ForwardOutcome): void {
    if (p.settled) return;
    p.settled = true;
    this.untrack(p);
    const { ctx } = p;
    // Dropped at once: the request would otherwise keep the exchange (and its outcome) alive as long as itself.
    (ctx.req as Exchanged)[EXCHANGE] = undefined;
    if (ctx.upstreamStartedAt !== undefined) ctx.upstreamMs = performance.now() - ctx.upstreamStartedAt;
    p.done(outcome, ctx);
  }

  close(): void {
    clearTimeout(this.sweepTimer);
    this.agent.destroy();
  }
}

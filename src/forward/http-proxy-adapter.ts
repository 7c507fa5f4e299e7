// Everything that knows http-proxy-3's internals, behind two calls: send a request whose body streams
// from the client, or one whose body is already in memory (detached from the client's response). It
// runs only http-proxy-3's `stream` pass, found by reflection, with options built once; its events
// (proxyReq, proxyRes, error) come back through one set of handlers for all exchanges, so no closure is
// made per request. A body is written upstream only with the framing the proxy set (SPEC §7 rev 2).
import http from 'node:http';
import https from 'node:https';
import type { Stream } from 'node:stream';
import { createProxyServer, type ProxyServer, type ServerOptions } from 'http-proxy-3';
import { passOn } from './response-relay.js';

/** Where http-proxy-3's events go; each names the client request the exchange belongs to. */
export interface AdapterEvents {
  onProxyReq(proxyReq: http.ClientRequest, req: http.IncomingMessage): void;
  onProxyRes(proxyRes: http.IncomingMessage, req: http.IncomingMessage): void;
  onError(err: Error, req: http.IncomingMessage): void;
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
// upstream request when the client leaves), `headersSent` and `finished`. A detached exchange must
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
 * so the checked path is set first (onProxyReq comes too late for this request). One stand-in serves
 * every detached exchange: the stream pass calls pipe() synchronously, so the body and path are handed
 * over just before (a spread of the options per request cost the copy and, worse, left setupOutgoing
 * reading a new object shape each time).
 */
const bufferedBody = {
  body: undefined as Buffer | undefined,
  path: '',
  pipe(destination: http.ClientRequest): http.ClientRequest {
    const body = bufferedBody.body;
    if (!body) throw new Error('bufferedBody used outside HttpProxyAdapter.sendDetached');
    bufferedBody.body = undefined;
    destination.path = bufferedBody.path;
    destination.end(body);
    return destination;
  },
};

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
    if (!req) throw new Error('streamedBody used outside HttpProxyAdapter.sendStreamed');
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

export class HttpProxyAdapter {
  private readonly agent: http.Agent;
  private readonly proxy: ProxyServer;
  private readonly stream: StreamPass;
  /** what the options of both kinds of exchange start from */
  private readonly options: ServerOptions;
  /** the same, with the request body forwarded by streamedBody */
  private readonly streamed: ServerOptions;
  /** the same, with a body already in memory written by bufferedBody */
  private readonly buffered: ServerOptions;
  private readonly onStreamError: (err: Error, req: http.IncomingMessage) => void;

  /** `ca`: the only CAs an https:// upstream's certificate may chain to (upstream.caFile); else the system roots. */
  constructor(url: URL, events: AdapterEvents, ca?: Buffer) {
    const agentOptions: https.AgentOptions = { keepAlive: true, scheduling: 'lifo', maxFreeSockets: 256 };
    this.agent = url.protocol === 'https:' ? new https.Agent(ca ? { ...agentOptions, ca } : agentOptions) : new http.Agent(agentOptions);
    this.options = {
      target: detailedTarget(url),
      agent: this.agent,
      selfHandleResponse: true,
      // keeps req.url as sent: without it http-proxy-3 re-parses and normalises the path
      toProxy: true,
      // The path is set by the forwarder's onProxyReq (and by the body stand-ins) from the checked
      // target; without this http-proxy-3 parses the target's own path with new URL() on every request.
      prependPath: false,
      xfwd: false,
      ws: false,
    };
    this.streamed = { ...this.options, buffer: streamedBody as unknown as Stream };
    this.buffered = { ...this.options, buffer: bufferedBody as unknown as Stream };
    this.proxy = createProxyServer(this.options);
    this.stream = streamPass(this.proxy);
    this.proxy.on('proxyReq', (proxyReq, req) => events.onProxyReq(proxyReq, req));
    this.proxy.on('proxyRes', (proxyRes, req) => events.onProxyRes(proxyRes, req));
    // the stream pass's error callback passes the request back: one function for all exchanges
    this.onStreamError = (err, req) => events.onError(err, req);
  }

  /** Sends `req` to `path` upstream, its body streamed from the client; http-proxy-3 aborts it if `res` closes. */
  sendStreamed(req: http.IncomingMessage, res: http.ServerResponse, path: string): void {
    streamedBody.source = req;
    streamedBody.path = path;
    try {
      this.stream(req, res, this.streamed, undefined, this.proxy, this.onStreamError);
    } finally {
      // also when http.request() threw before the body was piped: no request is kept for the next one
      streamedBody.source = undefined;
    }
  }

  /** Sends `req` with a body already in memory; nothing the client does aborts it. */
  sendDetached(req: http.IncomingMessage, body: Buffer, path: string): void {
    bufferedBody.body = body;
    bufferedBody.path = path;
    try {
      this.stream(req, DETACHED_RESPONSE, this.buffered, undefined, this.proxy, this.onStreamError);
    } finally {
      // also when http.request() threw before the body was piped: no body is kept for the next one
      bufferedBody.body = undefined;
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

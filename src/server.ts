// The client-facing HTTP server: explicit timeouts checked twice a second, header size and count
// bounds (SPEC §7, §12), `Expect: 100-continue` routed through the same handler so 100 is sent only
// after the checks, and requests Node's parser refuses answered with the §10 body (400, or 431) and
// reported (access line, metric) so probing is visible. Over TLS (SPEC §12 rev 2) the same server,
// as an https.Server with every setting above; its certificate reloads are tls/. Plus a listen helper;
// the SIGTERM drain is listener-drain.ts.
import http from 'node:http';
import https from 'node:https';
import type tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { ListenAddress } from './config/listen.js';
import { newRequestId } from './pipeline/context.js';
import type { HttpSocket } from './pipeline/connection-turn.js';
import { ERROR_CATALOGUE } from './errors.js';

export interface ServerLimits {
  readonly headersTimeout: number;
  readonly requestTimeout: number;
  readonly keepAliveTimeout: number;
  readonly maxHeaderSize: number;
  /** header lines; the handler refuses more with 431 (SPEC §7) */
  readonly maxHeaderCount: number;
}

/** A request Node's parser refused: its error code, the status answered (0: none), and the peer. */
export interface ParserRefusal {
  readonly code: string;
  readonly status: number;
  readonly requestId: string | undefined;
  readonly peer: string | undefined;
}

// Node checks headersTimeout and requestTimeout only every connectionsCheckingInterval (30 s by
// default): a 2 s headersTimeout closed a stalled connection after 22-25 s. SPEC §12: within a second.
const TIMEOUT_CHECK_MS = 500;

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, expectContinue: boolean) => void;

function rawError(status: number, reason: string, message: string, requestId: string): string {
  const body = JSON.stringify({ code: 'BAD_REQUEST', message, requestId });
  return (
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n` +
    `X-Request-Id: ${requestId}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}

/**
 * Errors of the HTTP parser (llhttp `HPE_*`) and Node's request timeouts: refusals, not mere socket
 * errors. HPE_INVALID_EOF_STATE is a client that closed mid-request: it left, nothing was refused.
 */
const REFUSAL = /^(?:HPE_(?!INVALID_EOF_STATE$)[A-Z_]+|ERR_HTTP_REQUEST_TIMEOUT)$/;

/** The raw answer to a parser refusal and its status: 431 for oversized headers, 408 for a timeout, else 400. */
function refusalAnswer(code: string, requestId: string): { status: number; text: string } {
  if (code === 'HPE_HEADER_OVERFLOW') return { status: 431, text: rawError(431, 'Request Header Fields Too Large', 'request header fields too large', requestId) };
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, text: `HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nX-Request-Id: ${requestId}\r\nContent-Length: 0\r\n\r\n` };
  return { status: 400, text: rawError(400, 'Bad Request', ERROR_CATALOGUE.BAD_REQUEST.message, requestId) };
}

// Requests Node's parser refuses never reach the handler; they still get a §10 body (431 for
// oversized headers, 400 otherwise) unless the socket is already unusable. Bytes that fail to parse
// behind a request still being answered must not pre-empt its response: the client would take the
// error for the answer to a request the upstream did execute. That response finishes first.
function onClientError(err: NodeJS.ErrnoException, socket: HttpSocket, report: (r: ParserRefusal) => void): void {
  const code = err.code ?? '';
  const refused = REFUSAL.test(code);
  const peer = socket.remoteAddress;
  const pending = socket._httpMessage;
  if (pending && !pending.writableFinished) {
    pending.once('finish', () => socket.destroy());
    pending.once('close', () => socket.destroy());
    if (refused) report({ code, status: 0, requestId: undefined, peer });
    return;
  }
  // As Node's default handler: answer only on a connection that has not answered anything yet; after
  // a response (perhaps one that said Connection: close) a raw error could be read as a second one.
  if (!refused || !socket.writable || socket.bytesWritten > 0) {
    socket.destroy();
    if (refused) report({ code, status: 0, requestId: undefined, peer });
    return;
  }
  const requestId = newRequestId();
  const { status, text } = refusalAnswer(code, requestId);
  socket.end(text);
  report({ code, status, requestId, peer });
}

/** `secure`: serve HTTPS with these (a certificate and key proven by tls/pem-pair.ts); else plain HTTP. */
export function createProxyServer(
  handler: Handler,
  limits: ServerLimits,
  report: (r: ParserRefusal) => void = () => {},
  secure?: tls.SecureContextOptions,
): http.Server {
  const options: http.ServerOptions = {
    maxHeaderSize: limits.maxHeaderSize,
    headersTimeout: limits.headersTimeout,
    requestTimeout: limits.requestTimeout,
    keepAliveTimeout: limits.keepAliveTimeout,
    // Checked by the handler instead, so a missing Host gets the §10 body like every other 400.
    requireHostHeader: false,
    connectionsCheckingInterval: TIMEOUT_CHECK_MS,
  };
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => handler(req, res, false);
  // A handshake is part of getting the headers: Node's default handshakeTimeout (120 s) would let a
  // silent connection hold a socket (and a shutdown) far longer than headersTimeout allows a request.
  const server: http.Server = secure
    ? https.createServer({ ...options, ...secure, handshakeTimeout: limits.headersTimeout }, onRequest)
    : http.createServer(options, onRequest);
  server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => handler(req, res, true));
  server.on('clientError', (err: NodeJS.ErrnoException, socket: HttpSocket) => onClientError(err, socket, report));
  // One line more than allowed reaches JavaScript, so the handler can tell "too many" (431) from "all
  // of them"; Node drops lines past this count silently while its parser still obeys them (SPEC §7).
  server.maxHeadersCount = limits.maxHeaderCount + 1;
  return server;
}

export function listen(server: http.Server, address: ListenAddress): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

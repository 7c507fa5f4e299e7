// The client-facing HTTP server: explicit timeouts and header bound (SPEC §12), `Expect:
// 100-continue` routed through the same handler so 100 is sent only after the checks, and
// malformed requests answered with the §10 body. Plus listen and drain helpers.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ListenAddress } from './config/listen.js';
import { newRequestId } from './pipeline/context.js';
import { ERROR_CATALOGUE } from './errors.js';

export interface ServerLimits {
  readonly headersTimeout: number;
  readonly requestTimeout: number;
  readonly keepAliveTimeout: number;
  readonly maxHeaderSize: number;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, expectContinue: boolean) => void;

function rawError(status: number, reason: string, message: string): string {
  const requestId = newRequestId();
  const body = JSON.stringify({ code: 'BAD_REQUEST', message, requestId });
  return (
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n` +
    `X-Request-Id: ${requestId}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}

interface HttpSocket extends Socket {
  /** Node's response in progress on this connection (undocumented, stable since Node 0.x) */
  _httpMessage?: http.ServerResponse | null;
}

// Requests Node's parser refuses never reach the handler; they still get a §10 body (431 for
// oversized headers, 400 otherwise) unless the socket is already unusable. Bytes that fail to parse
// behind a request still being answered must not pre-empt its response: the client would take the
// error for the answer to a request the upstream did execute. That response finishes first.
function onClientError(err: NodeJS.ErrnoException, socket: HttpSocket): void {
  const pending = socket._httpMessage;
  if (pending && !pending.writableFinished) {
    pending.once('finish', () => socket.destroy());
    pending.once('close', () => socket.destroy());
    return;
  }
  // As Node's default handler: answer only on a connection that has not answered anything yet; after
  // a response (perhaps one that said Connection: close) a raw error could be read as a second one.
  if (!socket.writable || socket.bytesWritten > 0) {
    socket.destroy();
    return;
  }
  let text: string;
  if (err.code === 'HPE_HEADER_OVERFLOW') text = rawError(431, 'Request Header Fields Too Large', 'request header fields too large');
  else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') text = 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';
  else text = rawError(400, 'Bad Request', ERROR_CATALOGUE.BAD_REQUEST.message);
  socket.end(text);
}

export function createProxyServer(handler: Handler, limits: ServerLimits): http.Server {
  const server = http.createServer(
    {
      maxHeaderSize: limits.maxHeaderSize,
      headersTimeout: limits.headersTimeout,
      requestTimeout: limits.requestTimeout,
      keepAliveTimeout: limits.keepAliveTimeout,
      // Checked by the handler instead, so a missing Host gets the §10 body like every other 400.
      requireHostHeader: false,
    },
    (req, res) => handler(req, res, false),
  );
  server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => handler(req, res, true));
  server.on('clientError', onClientError);
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

/** Stops accepting, closes idle keep-alive connections, waits for in-flight requests up to timeoutMs. */
export function drainServer(server: http.Server, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.closeAllConnections();
      resolve();
    }, timeoutMs);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}

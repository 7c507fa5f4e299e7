// A real upstream on 127.0.0.1 port 0 that records every request it receives (method, target, raw
// header lines, body bytes), so tests assert what the custody service saw, or that it saw nothing.
// It also keeps every byte that arrived on its connections (`rawText()`), for tests that must show
// that nothing but the requests it parsed was written to it (request smuggling).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';

export interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
}

export type UpstreamHandler = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void;

export interface RecordingUpstream {
  readonly url: string;
  readonly port: number;
  readonly requests: Received[];
  /** replaces how the upstream answers (default: 200 JSON {"ok":true}) */
  handler: UpstreamHandler;
  /** every byte received so far, all connections in the order bytes arrived, as latin1 text */
  rawText(): string;
  /** values of one header across raw lines, case-insensitively */
  headerLines(r: Received, name: string): string[];
  close(): Promise<void>;
}

export const defaultHandler: UpstreamHandler = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{"ok":true}');
};

/** `host` is the loopback address to listen on: '127.0.0.1' or '::1' (the URL then brackets it). */
export async function startUpstream(handler: UpstreamHandler = defaultHandler, host: '127.0.0.1' | '::1' = '127.0.0.1'): Promise<RecordingUpstream> {
  const requests: Received[] = [];
  const state = { handler };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body });
      state.handler(req, res, body);
    });
  });
  const bytes: Buffer[] = [];
  // A 'data' listener makes Node's server read the socket in JavaScript instead of its native
  // fast path; the parser still sees every byte, so what it parsed and what arrived can be compared.
  server.on('connection', (socket) => socket.on('data', (chunk: Buffer) => bytes.push(chunk)));
  server.listen(0, host);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host === '::1' ? '[::1]' : host}:${port}`,
    port,
    requests,
    get handler() {
      return state.handler;
    },
    set handler(h: UpstreamHandler) {
      state.handler = h;
    },
    rawText: () => Buffer.concat(bytes).toString('latin1'),
    headerLines(r, name) {
      const out: string[] = [];
      for (let i = 0; i < r.rawHeaders.length; i += 2) {
        if ((r.rawHeaders[i] ?? '').toLowerCase() === name.toLowerCase()) out.push(r.rawHeaders[i + 1] ?? '');
      }
      return out;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// An upstream on 127.0.0.1 that records each request the moment Node's parser has read its head
// (so a request whose body never ends, e.g. one smuggled with a Content-Length it never fills, is on
// record too), answers 200 once the body has ended, and watches its sockets' bytes so a test can wait
// until nothing more arrives. For the request-front fuzz test: "what did the upstream parse".
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ParsedRequest {
  readonly method: string;
  readonly url: string;
  readonly rawHeaders: readonly string[];
}

export interface ParsingUpstream {
  readonly url: string;
  /** the requests parsed since the last take(), oldest first */
  take(): ParsedRequest[];
  /** resolves once no request is open and no byte arrived for quietMs, or after maxMs at the latest */
  quiet(quietMs: number, maxMs: number): Promise<void>;
  close(): Promise<void>;
}

/** Values of one header across the raw lines, case-insensitively. */
export function linesOf(r: ParsedRequest, name: string): string[] {
  const out: string[] = [];
  const want = name.toLowerCase();
  for (let i = 0; i < r.rawHeaders.length; i += 2) {
    if ((r.rawHeaders[i] ?? '').toLowerCase() === want) out.push(r.rawHeaders[i + 1] ?? '');
  }
  return out;
}

export async function startParsingUpstream(): Promise<ParsingUpstream> {
  let parsed: ParsedRequest[] = [];
  let open = 0;
  let lastActivity = performance.now();
  const server = http.createServer((req, res) => {
    parsed.push({ method: req.method ?? '', url: req.url ?? '', rawHeaders: [...req.rawHeaders] });
    open++;
    const settle = (): void => {
      open--;
      lastActivity = performance.now();
    };
    res.once('close', settle);
    req.resume();
    req.once('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  server.on('connection', (socket) => socket.on('data', () => (lastActivity = performance.now())));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    take() {
      const out = parsed;
      parsed = [];
      return out;
    },
    async quiet(quietMs, maxMs) {
      const until = performance.now() + maxMs;
      while (performance.now() < until) {
        if (open === 0 && performance.now() - lastActivity >= quietMs) return;
        await sleep(10);
      }
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// Client side of the tests: requests with exact header lines (duplicates allowed) via node:http,
// and raw bytes over a socket for what http.request will not send (bad targets, smuggling attempts).
import http from 'node:http';
import net from 'node:net';

export interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  readonly text: string;
  json<T = Record<string, unknown>>(): T;
}

export interface RequestSpec {
  readonly method?: string;
  readonly path?: string;
  /** flat [name, value] pairs, sent as separate lines in this order */
  readonly headers?: ReadonlyArray<readonly [string, string]>;
  readonly body?: string | Buffer;
  /** keep-alive agent to reuse (default: a fresh connection) */
  readonly agent?: http.Agent | false;
  readonly timeoutMs?: number;
}

export function request(baseUrl: string, spec: RequestSpec = {}): Promise<Reply> {
  const url = new URL(spec.path ?? '/', baseUrl);
  const flat: string[] = [];
  // With a header array Node adds no Host line itself.
  if (!(spec.headers ?? []).some(([k]) => k.toLowerCase() === 'host')) flat.push('Host', url.host);
  for (const [k, v] of spec.headers ?? []) flat.push(k, v);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method: spec.method ?? 'GET',
        path: spec.path ?? '/',
        headers: flat,
        agent: spec.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          const text = body.toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text, json: <T>() => JSON.parse(text) as T });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(spec.timeoutMs ?? 10_000, () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end(spec.body);
  });
}

/** Writes raw bytes, returns everything the server sent until it closed or timeoutMs passed. */
export function rawRequest(port: number, bytes: string | Buffer, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', done);
    socket.on('close', done);
    socket.on('error', (e) => {
      clearTimeout(timer);
      if (chunks.length > 0) done();
      else reject(e);
    });
    socket.write(bytes);
  });
}

// Client side of the tests: requests with exact header lines (duplicates allowed) via node:http,
// and raw bytes over a socket for what http.request will not send (bad targets, smuggling attempts).
import http from 'node:http';
import net from 'node:net';

export interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** the response header lines as received */
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
  readonly text: string;
  /** milliseconds from send to the end of the response */
  readonly ms: number;
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

export interface InFlightRequest {
  readonly reply: Promise<Reply>;
  /** destroys the client socket (a client that goes away mid-flight) */
  abort(): void;
}

/** One request to baseUrl (an IPv6 literal in brackets works too); Host is added unless spec sends one. */
export function startRequest(baseUrl: string, spec: RequestSpec = {}): InFlightRequest {
  const url = new URL(spec.path ?? '/', baseUrl);
  const flat: string[] = [];
  // With a header array Node adds no Host line itself.
  if (!(spec.headers ?? []).some(([k]) => k.toLowerCase() === 'host')) flat.push('Host', url.host);
  for (const [k, v] of spec.headers ?? []) flat.push(k, v);
  const started = Date.now();
  let req: http.ClientRequest | undefined;
  const reply = new Promise<Reply>((resolve, reject) => {
    req = http.request(
      {
        // URL keeps the brackets of an IPv6 literal; a socket address has none.
        host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
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
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body,
            text,
            ms: Date.now() - started,
            json: <T>() => JSON.parse(text) as T,
          });
        });
        res.on('error', reject);
        res.on('aborted', () => reject(new Error('response aborted')));
      },
    );
    req.setTimeout(spec.timeoutMs ?? 10_000, () => req?.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end(spec.body);
  });
  return { reply, abort: () => req?.destroy() };
}

export function request(baseUrl: string, spec: RequestSpec = {}): Promise<Reply> {
  return startRequest(baseUrl, spec).reply;
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

// One request over node:http for the bench's preflight checks. Not global fetch: Node's fetch (undici)
// sends `Sec-Fetch-Mode: cors` on every request, which it does not let a caller change, and the proxy
// refuses that header as a browser request (`browserRequests: refuse`, the default).
import http from 'node:http';

export interface PlainReply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
}

export interface PlainRequest {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly timeoutMs?: number;
}

export function plainRequest(url: string, spec: PlainRequest = {}): Promise<PlainReply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: spec.method ?? 'GET', headers: spec.headers ?? {}, agent: false, timeout: spec.timeoutMs ?? 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${spec.method ?? 'GET'} ${url}: no answer within ${spec.timeoutMs ?? 5000} ms`)));
    req.on('error', reject);
    req.end(spec.body);
  });
}

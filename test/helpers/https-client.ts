// HTTPS requests to the proxy's TLS listener on 127.0.0.1, reporting which certificate served them
// (its serial) and whether a kept-alive connection was reused, so reload tests can tell old
// connections from new ones. Bounded by a timeout; errors resolve as { error } rather than throw.
import https from 'node:https';
import type tls from 'node:tls';

export interface HttpsAnswer {
  readonly status: number;
  readonly body: string;
  /** the serial of the certificate this connection was served, upper-case hex as Node reports it */
  readonly serial: string;
  readonly reused: boolean;
  readonly error?: string;
}

export interface HttpsRequest {
  readonly port: number;
  readonly path?: string;
  readonly method?: string;
  readonly headers?: Record<string, string>;
  /** a keep-alive agent (its `ca` trusts the test CA) to reuse connections; else a new connection with `ca` */
  readonly agent?: https.Agent;
  readonly ca?: string;
  readonly timeoutMs?: number;
}

export function httpsRequest(r: HttpsRequest): Promise<HttpsAnswer> {
  return new Promise((resolve) => {
    const req = https.request(
      { host: '127.0.0.1', port: r.port, path: r.path ?? '/v1/things', method: r.method ?? 'GET', headers: r.headers, agent: r.agent ?? false, ...(r.agent ? {} : { ca: r.ca }), timeout: r.timeoutMs ?? 10_000 },
      (res) => {
        const serial = (res.socket as tls.TLSSocket).getPeerCertificate().serialNumber ?? '';
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, serial, reused: req.reusedSocket }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: 0, body: '', serial: '', reused: false, error: err.code ?? err.message }));
    req.end();
  });
}

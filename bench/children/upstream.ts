// The bench upstream, a child process of the bench entry points (compiled by bench/lib/build.ts) so its
// CPU is never counted against a proxy: plain node:http on 127.0.0.1 (port 0), keep-alive, 200 with a
// small JSON body. A request body (POST) is read completely before answering. It echoes X-Tenant-Id so
// the bench can check that custody-proxy stamped it. Prints {"msg":"bench upstream ready","port":N}.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

function answer(req: http.IncomingMessage, res: http.ServerResponse): void {
  const tenant = req.headers['x-tenant-id'];
  const body = JSON.stringify({
    vaults: [{ id: 'vlt_01', asset: 'BTC', balance: '1.50000000' }],
    tenant: typeof tenant === 'string' ? tenant : null,
  });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

// A long keep-alive timeout: the proxies' pooled sockets stay open across rounds and pauses, so no
// round pays for reconnects or races a server-side idle close (which would show up as 502s).
const server = http.createServer({ keepAliveTimeout: 120_000 }, (req, res) => {
  if (req.method === 'GET' || req.method === 'HEAD') {
    answer(req, res);
    return;
  }
  req.resume();
  req.once('end', () => answer(req, res));
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ msg: 'bench upstream ready', port })}\n`);
});

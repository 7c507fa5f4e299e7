// The baseline: a bare http-proxy-3 pass-through, a child process of the bench entry points (compiled
// by bench/lib/build.ts). No checks, no header edits, no logging: a plain node:http server calling
// proxy.web() towards the target given as argv[2], over a keep-alive agent with the same options as
// src/forward/forwarder.ts. Prints one JSON line {"msg":"bench passthrough ready","port":N}.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createProxyServer } from 'http-proxy-3';

const target = process.argv[2];
if (!target) {
  process.stderr.write('usage: passthrough.js <upstream url>\n');
  process.exit(2);
}

const agent = new http.Agent({ keepAlive: true, scheduling: 'lifo', maxFreeSockets: 256 });
const proxy = createProxyServer({ target, agent });
proxy.on('error', (_err, _req, res) => {
  if (res instanceof http.ServerResponse) {
    if (!res.headersSent) res.writeHead(502, { 'content-length': '0' });
    res.end();
  } else {
    res.destroy();
  }
});

const server = http.createServer((req, res) => proxy.web(req, res));
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ msg: 'bench passthrough ready', port })}\n`);
});

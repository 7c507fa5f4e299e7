// createContext counts Authorization and Host lines in every spelling (SPEC §5: a duplicate Authorization
// is a 401; HTTP/1.1 needs exactly one Host): the usual spellings take a shortcut, the others are
// lower-cased. Real IncomingMessages, from raw requests on a 127.0.0.1 socket.
import t from 'tap';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { createContext } from '../../../src/pipeline/context.js';

// as the proxy server: a missing Host reaches the handler (which answers 400 itself)
const server = http.createServer({ requireHostHeader: false }, (req, res) => {
  const ctx = createContext(req, res, undefined, false);
  res.end(JSON.stringify({ authorization: ctx.authorizationLines, host: ctx.hostLines, keys: ctx.idempotencyKeyLines }));
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const { port } = server.address() as AddressInfo;
t.teardown(() => server.close());

async function counts(headerLines: readonly string[]): Promise<{ authorization: number; host: number; keys: string[] }> {
  const socket = net.connect(port, '127.0.0.1');
  socket.end(['GET / HTTP/1.1', ...headerLines, 'Connection: close', '', ''].join('\r\n'));
  const chunks: Buffer[] = [];
  for await (const c of socket) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('latin1');
  return JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { authorization: number; host: number; keys: string[] };
}

t.test('every spelling of Authorization and Host is counted', async (t) => {
  for (const [lines, authorization, host] of [
    [['Host: a', 'Authorization: Bearer x:y'], 1, 1],
    [['host: a', 'authorization: Bearer x:y'], 1, 1],
    [['HOST: a', 'AUTHORIZATION: Bearer x:y'], 1, 1],
    [['hOsT: a', 'AuThOrIzAtIoN: Bearer x:y', 'authorization: Bearer z:w'], 2, 1],
    [['Host: a', 'HOST: b', 'Authorization: a', 'AUTHORIZATION: b', 'authorization: c'], 3, 2],
    [['X-Host: a', 'X-Authorization: b'], 0, 0],
  ] as const) {
    const got = await counts(lines);
    t.same({ authorization: got.authorization, host: got.host }, { authorization, host }, lines.join(' | '));
  }
});

t.test('every Idempotency-Key line is kept, in order, whatever its spelling', async (t) => {
  const got = await counts(['Host: a', 'Idempotency-Key: k1', 'IDEMPOTENCY-KEY: k2', 'idempotency-key: k3']);
  t.same(got.keys, ['k1', 'k2', 'k3']);
});

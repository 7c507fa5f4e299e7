// The stage unit tests trust test/helpers/fake-context.ts to hand a stage what Node would: this checks
// its header joining (first line kept, ', ' and '; ' joins, set-cookie lists) against req.headers of
// real requests received on a 127.0.0.1 socket, and the fields of a context it builds.
import t from 'tap';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { fakeContext, fakeRequest, joinHeaders, snapshotOf, type HeaderLine } from '../../helpers/fake-context.js';

const received: Array<{ headers: http.IncomingHttpHeaders; rawHeaders: string[] }> = [];
const server = http.createServer((req, res) => {
  received.push({ headers: req.headers, rawHeaders: req.rawHeaders });
  res.end();
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const { port } = server.address() as AddressInfo;
t.teardown(() => server.close());

async function nodeHeaders(lines: readonly HeaderLine[]): Promise<{ headers: http.IncomingHttpHeaders; rawHeaders: string[] }> {
  const socket = net.connect(port, '127.0.0.1');
  socket.end(['GET / HTTP/1.1', ...lines.map(([k, v]) => `${k}: ${v}`), 'Connection: close', '', ''].join('\r\n'));
  for await (const _ of socket) void _;
  const got = received.pop();
  if (!got) throw new Error('no request received');
  return got;
}

t.test('joinHeaders builds req.headers as Node does', async (t) => {
  const lines: HeaderLine[] = [
    ['Host', 'a.test'],
    ['HOST', 'b.test'],
    ['Authorization', 'Bearer first:1'],
    ['authorization', 'Bearer second:2'],
    ['Content-Type', 'text/plain'],
    ['content-type', 'application/json'],
    ['X-Forwarded-For', '198.51.100.1'],
    ['x-forwarded-for', '198.51.100.2, 10.0.0.1'],
    ['Cookie', 'a=1'],
    ['COOKIE', 'b=2'],
    ['Set-Cookie', 's=1'],
    ['set-cookie', 's=2'],
    ['Transfer-Encoding', 'gzip'],
    ['Transfer-Encoding', 'chunked'],
    ['X_Under', 'u'],
    ['X-Spaced', ' \t v 1 \t'],
  ];
  const node = await nodeHeaders(lines);
  const all: HeaderLine[] = [...lines, ['Connection', 'close']];
  const req = fakeRequest({ headers: all });
  t.strictSame(req.headers, node.headers, 'the same headers object as Node built');
  t.strictSame(req.rawHeaders, node.rawHeaders, 'the same raw lines, whitespace around values stripped');
  t.equal(req.headers['x-spaced'], 'v 1');
  t.equal(joinHeaders(all)['authorization'], 'Bearer first:1', 'first Authorization kept');
  t.equal(joinHeaders(all)['x-forwarded-for'], '198.51.100.1, 198.51.100.2, 10.0.0.1', 'X-Forwarded-For lines joined in order');
  t.equal(joinHeaders(all)['cookie'], 'a=1; b=2');
  t.same(joinHeaders(all)['set-cookie'], ['s=1', 's=2']);
});

t.test('fakeContext: the fields a stage reads', async (t) => {
  const snapshot = snapshotOf([{ id: 'tnt_a' }], [{ keyId: 'ck_a', tenant: 'tnt_a', secret: 's' }]);
  const ctx = fakeContext({
    method: 'POST',
    url: '/v1/x?y=1',
    headers: [['Host', 'h'], ['Authorization', 'a'], ['authorization', 'b'], ['Idempotency-Key', 'k1']],
    remoteAddress: '::ffff:203.0.113.9',
    snapshot,
    authenticatedAs: 'ck_a',
  });
  t.equal(ctx.req.method, 'POST');
  t.equal(ctx.req.url, '/v1/x?y=1');
  t.equal(ctx.path, '/v1/x?y=1', 'createContext starts path at the target');
  t.equal(ctx.req.socket.remoteAddress, '::ffff:203.0.113.9');
  t.equal(ctx.req.httpVersionMinor, 1);
  t.equal(ctx.authorizationLines, 2);
  t.equal(ctx.hostLines, 1);
  t.same(ctx.idempotencyKeyLines, ['k1']);
  t.equal(ctx.credential?.keyId, 'ck_a');
  t.equal(ctx.credential?.tenant.id, 'tnt_a');
  t.equal(ctx.knownKeyId, 'ck_a');
  t.match(ctx.requestId, /^req_[0-9a-f]{32}$/);
  t.equal(fakeContext({ remoteAddress: undefined }).req.socket.remoteAddress, undefined, 'a socket already gone');
  t.equal(fakeContext({ httpVersion: '1.0' }).req.httpVersionMinor, 0);
});

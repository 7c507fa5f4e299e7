// The forwarder's own defence against request smuggling (SPEC §7 rev 2), independent of the 431
// header-count check: body bytes are never written onto an upstream request whose headers declare no
// body. A real server hands the forwarder requests whose framing header JavaScript does not see (as
// when Node cut the header list), over real sockets; the upstream must parse exactly one request.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { Forwarder } from '../../../src/forward/forwarder.js';
import { createContext } from '../../../src/pipeline/context.js';
import { startUpstream, type RecordingUpstream } from '../../helpers/recording-upstream.js';
import { rawRequest } from '../../helpers/http-client.js';
import { parseResponses } from '../../helpers/raw-response.js';

const SMUGGLED = 'DELETE /v1/vaults/v1 HTTP/1.1\r\nHost: x\r\nX-Tenant-Id: tnt_victim\r\nContent-Length: 0\r\n\r\n';

let upstream: RecordingUpstream;
let forwarder: Forwarder;
let front: http.Server;
let port: number;

t.before(async () => {
  upstream = await startUpstream();
  forwarder = new Forwarder({ url: new URL(upstream.url), timeoutMs: 3000, connectTimeoutMs: 1000 });
  front = http.createServer((req, res) => {
    // What a cut header list looks like to JavaScript: Node's parser framed a body, the headers do not say so.
    delete req.headers['content-length'];
    delete req.headers['transfer-encoding'];
    req.headers['x-request-id'] = 'req_front';
    forwarder.start(createContext(req, res, undefined, false), { detached: false }, () => {});
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  port = (front.address() as AddressInfo).port;
});
t.teardown(async () => {
  forwarder.close();
  front.closeAllConnections();
  await new Promise<void>((resolve) => front.close(() => resolve()));
  await upstream.close();
});

for (const method of ['GET', 'DELETE', 'OPTIONS']) {
  for (const framing of ['content-length', 'chunked'] as const) {
    t.test(`${method} with a ${framing} body the headers do not declare: one upstream request, no body bytes`, async (t) => {
      const before = upstream.requests.length;
      const bytesBefore = upstream.rawText().length;
      const body = framing === 'content-length' ? SMUGGLED : `${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`;
      const line = framing === 'content-length' ? `Content-Length: ${SMUGGLED.length}` : 'Transfer-Encoding: chunked';
      const text = await rawRequest(port, `${method} /v1/reports HTTP/1.1\r\nHost: 127.0.0.1\r\n${line}\r\nConnection: close\r\n\r\n${body}`);
      t.equal(parseResponses(text)[0]?.status, 200, 'answered');
      await new Promise((r) => setTimeout(r, 100));
      t.equal(upstream.requests.length, before + 1, 'the upstream parsed exactly one request');
      t.equal(upstream.requests.at(-1)?.method, method);
      t.equal(upstream.requests.at(-1)?.body.length, 0, 'with no body');
      const raw = upstream.rawText().slice(bytesBefore);
      t.notMatch(raw, /DELETE \/v1\/vaults/, 'the body bytes were never written upstream');
      t.match(raw, /\r\n\r\n$/, 'the bytes end with the header block');
    });
  }
}

t.test('a declared body is still forwarded intact', async (t) => {
  const plain = http.createServer((req, res) => forwarder.start(createContext(req, res, undefined, false), { detached: false }, () => {}));
  await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    plain.closeAllConnections();
    plain.close();
  });
  const before = upstream.requests.length;
  const p = (plain.address() as AddressInfo).port;
  const text = await rawRequest(p, `DELETE /v1/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`);
  t.equal(parseResponses(text)[0]?.status, 200);
  t.equal(upstream.requests.length, before + 1);
  t.equal(upstream.requests.at(-1)?.body.toString(), 'hello', 'body forwarded with its own length');
});

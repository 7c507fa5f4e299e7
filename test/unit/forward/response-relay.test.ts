// The response relay (src/forward/response-relay.ts) over real sockets: streamed, the client gets the
// upstream's answer with hop-by-hop headers dropped and the proxy's X-Request-Id, nothing captured;
// detached, the body is captured (or not, past the limit) and the client's response ends only at
// finish(); a cut upstream response is reported as cut.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { relayResponse, type RelayedResponse } from '../../../src/forward/response-relay.js';

const BODY = Buffer.from('x'.repeat(5000));

/**
 * An upstream answering BODY (or cutting it), a front server relaying with `capture`; one client GET.
 * finish() is called `finishAfterMs` after the relay reported the end (never when undefined).
 */
async function relay(capture: number | undefined, finishAfterMs: number | undefined, cutUpstream = false) {
  const upstream = http.createServer((_req, res) => {
    res.writeHead(201, { 'content-type': 'text/plain', 'x-request-id': 'upstream-id', connection: 'x-hop', 'x-hop': '1', 'content-length': String(BODY.length) });
    if (cutUpstream) res.write(BODY.subarray(0, 100), () => res.destroy());
    else res.end(BODY);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const events: { ended?: RelayedResponse; cut: number; clientDoneBeforeFinish: boolean } = { cut: 0, clientDoneBeforeFinish: false };
  let clientDone = false;
  const front = http.createServer((_req, res) => {
    http.get(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}/`, (proxyRes) => {
      relayResponse(proxyRes, res, 'req_front', capture, 'token', {
        ended: (_token, r) => {
          events.ended = r;
          if (finishAfterMs === undefined) return;
          setTimeout(() => {
            events.clientDoneBeforeFinish = clientDone;
            r.finish();
          }, finishAfterMs);
        },
        cut: () => {
          events.cut++;
          res.destroy();
        },
      });
    });
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  const client = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer; complete: boolean }>((resolve) => {
    http.get(`http://127.0.0.1:${(front.address() as AddressInfo).port}/`, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clientDone = true;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), complete: res.complete });
      });
      res.on('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), complete: res.complete }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), complete: false }));
    }).on('error', () => resolve({ status: 0, headers: {}, body: Buffer.alloc(0), complete: false }));
  });
  front.closeAllConnections();
  front.close();
  upstream.closeAllConnections();
  upstream.close();
  return { client, events };
}

t.test('streamed: relayed as it comes, hop-by-hop dropped, X-Request-Id replaced, nothing captured', async (t) => {
  const { client, events } = await relay(undefined, undefined);
  t.equal(client.status, 201);
  t.ok(client.body.equals(BODY), 'the whole body, without finish() ever being called');
  t.equal(client.headers['x-request-id'], 'req_front', "the proxy's id, not the upstream's");
  t.equal(client.headers['x-hop'], undefined, 'a header the upstream listed in Connection is not relayed');
  t.equal(events.ended?.status, 201);
  t.equal(events.ended?.body, undefined, 'nothing captured');
});

t.test('detached: captured within the limit, and the client waits for finish()', async (t) => {
  const { client, events } = await relay(BODY.length, 150);
  t.ok(client.body.equals(BODY), 'the client gets the whole body');
  t.ok(events.ended?.body?.equals(BODY), 'and the record gets it too');
  t.notOk(events.clientDoneBeforeFinish, 'the last chunk was held until finish()');
});

t.test('detached: over the capture limit the client still gets it whole, the record gets nothing', async (t) => {
  const { client, events } = await relay(BODY.length - 1, 0);
  t.ok(client.body.equals(BODY));
  t.equal(events.ended?.body, undefined, 'never a truncated body');
});

t.test('an upstream response cut before its end is reported as cut, never as ended', async (t) => {
  const { client, events } = await relay(BODY.length, 0, true);
  t.equal(events.cut, 1, 'cut once');
  t.equal(events.ended, undefined, 'not ended');
  t.notOk(client.complete, 'the client never sees a complete response');
});

// Relays the upstream response to the client as it arrives (hop-by-hop headers dropped, the proxy's
// X-Request-Id set) and, for a detached (claimed) exchange, captures its body for the idempotency record
// and holds the last chunk back until the record is settled. The upstream response is always read to
// its end, whatever the client does, so a record can be completed after its client left.
import type http from 'node:http';
import type { Readable, Writable } from 'node:stream';
import { responseHeaders } from './response-headers.js';

/**
 * One chunk from `from` to `to` with back-pressure: `from` pauses until `to` drains. Nothing is written
 * to a destination that is already destroyed (its side of the exchange is over; the chunk is dropped).
 */
export function passOn(from: Readable, to: Writable, chunk: Buffer): void {
  if (!to.destroyed && !to.write(chunk)) {
    from.pause();
    to.once('drain', () => from.resume());
  }
}

/** A complete upstream response, as relayed (already shaped as the forwarder's outcome). */
export interface RelayedResponse {
  readonly kind: 'response';
  readonly status: number;
  readonly headers: readonly string[];
  /** the captured body; undefined when not captured, or when it exceeded the capture limit */
  readonly body: Buffer | undefined;
  /** ends the client's response (a detached exchange's last chunk waits for it); safe to call always */
  readonly finish: () => void;
}

/** Where a relay reports; `token` is the caller's own (its exchange), passed back unchanged. */
export interface RelayEvents<T> {
  /** the whole upstream response has arrived */
  ended(token: T, response: RelayedResponse): void;
  /** the upstream response was cut before its end */
  cut(token: T): void;
}

const NOTHING = (): void => {};

/**
 * Keeps up to `limit` bytes of `from`'s body; the returned function gives them once it has ended, or
 * undefined when the body was longer. A body that arrived in one chunk is that chunk, not a copy.
 */
export function captureBody(from: Readable, limit: number): () => Buffer | undefined {
  const chunks: Buffer[] = [];
  let captured = 0;
  from.on('data', (chunk: Buffer) => {
    captured += chunk.length;
    if (captured <= limit) chunks.push(chunk);
  });
  return () => (captured > limit ? undefined : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, captured));
}

/**
 * Relays `proxyRes` to `res`. Streamed (`capture` undefined): chunks pass on as they come and the
 * client's response ends with the upstream's. Detached (`capture` = the most body bytes to keep): the
 * body is also captured, and the last chunk is held until `finish()`, so a client never holds the whole
 * response while a duplicate (on any replica) could still find the key in flight.
 */
export function relayResponse<T>(proxyRes: http.IncomingMessage, res: http.ServerResponse, requestId: string, capture: number | undefined, token: T, events: RelayEvents<T>): void {
  const status = proxyRes.statusCode ?? 502;
  const headers = responseHeaders(proxyRes.rawHeaders, requestId);
  const captured = capture === undefined ? undefined : captureBody(proxyRes, capture);
  let finish = NOTHING;
  const streamed = capture === undefined;
  proxyRes.on('end', () => {
    const body = captured?.();
    events.ended(token, { kind: 'response', status, headers, body, finish });
    if (streamed && !res.destroyed && !res.writableEnded) res.end();
  });
  proxyRes.on('close', () => {
    if (!proxyRes.complete) events.cut(token);
  });
  if (res.destroyed) {
    proxyRes.resume();
    return;
  }
  res.writeHead(status, proxyRes.statusMessage, headers);
  if (streamed) {
    // One listener instead of pipe(), which adds and later removes seven on the two streams per
    // response. The same back-pressure; the end is written by the 'end' listener above.
    proxyRes.on('data', (chunk: Buffer) => passOn(proxyRes, res, chunk));
    return;
  }
  let held: Buffer | undefined;
  proxyRes.on('data', (chunk: Buffer) => {
    const ready = held;
    held = chunk;
    if (ready) passOn(proxyRes, res, ready);
  });
  // Detached: a client that leaves never stops the upstream response from being read to the end.
  res.once('close', () => proxyRes.resume());
  finish = () => {
    if (!res.destroyed && !res.writableEnded) res.end(held);
  };
}

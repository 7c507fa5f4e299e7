// Reads a keyed request's body into memory (it is fingerprinted and may be re-sent), enforcing
// maxRequestBytes on the bytes actually read, so a chunked body or a lying Content-Length cannot
// push past it. Raises 413 PAYLOAD_TOO_LARGE.
import type { IncomingMessage } from 'node:http';
import { ProxyError } from '../errors.js';

/**
 * A declared Content-Length over the limit is refused before anything is read, and before `100
 * Continue` (SPEC §9): a client is never told to upload a body that will be refused.
 */
export function refuseDeclaredLength(req: IncomingMessage, maxBytes: number): void {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) throw new ProxyError('PAYLOAD_TOO_LARGE', 'declared_length');
}

/**
 * The body, within maxBytes counted on the bytes read. A declared length over the limit is the caller's
 * to refuse first, with refuseDeclaredLength, before it sends 100 Continue.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        req.pause();
        reject(new ProxyError('PAYLOAD_TOO_LARGE', 'body_length'));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      // Most bodies arrive in one chunk: it is the body (a chunk is never reused by Node), no copy needed.
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onAborted = (): void => onError(new Error('client aborted the request body'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

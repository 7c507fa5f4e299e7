// Response headers passed back to the client: the upstream's, minus hop-by-hop ones (including those
// its Connection header lists) and its own X-Request-Id, which is replaced by this request's.
import { addListedNames } from '../net/connection-listing.js';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'proxy-authenticate',
  'x-request-id',
]);

/** Only a name as long as a hop-by-hop one can be one: the others skip toLowerCase(). */
const HOP_LENGTH = new Uint8Array(32);
for (const name of HOP_BY_HOP) HOP_LENGTH[name.length] = 1;

/** The names the upstream's Connection lines list (Node would join several lines into one value). */
function connectionListed(rawHeaders: readonly string[]): Set<string> | undefined {
  let listed: Set<string> | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length !== 10 || (name !== 'Connection' && name !== 'connection' && name.toLowerCase() !== 'connection')) continue;
    listed = addListedNames(rawHeaders[i + 1] as string, listed);
  }
  return listed;
}

/**
 * Flat [name, value, …] list, as res.writeHead accepts, preserving order, case and repeats. Read from
 * rawHeaders alone: `proxyRes.headers` would build a headers object for every response, for one value.
 */
export function responseHeaders(rawHeaders: readonly string[], requestId: string): string[] {
  const listed = connectionListed(rawHeaders);
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (listed !== undefined || HOP_LENGTH[name.length] === 1) {
      const lower = name.toLowerCase();
      if (HOP_BY_HOP.has(lower) || listed?.has(lower)) continue;
    }
    out.push(name, rawHeaders[i + 1] as string);
  }
  out.push('X-Request-Id', requestId);
  return out;
}

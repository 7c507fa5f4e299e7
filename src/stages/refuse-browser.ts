// Browser requests (SPEC §5 rev 2; the guide: "never call the API from client-side code"): a request a
// browser made is refused with 403 FORBIDDEN before authentication, so a key pasted into a web page
// fails at once, whatever the key. Browsers mark their requests themselves and no script can remove
// the marks: `Origin` (every cross-origin request, every preflight `OPTIONS`, every POST) and the fetch
// metadata header `Sec-Fetch-Mode`. Any `Sec-Fetch-Mode` is refused, not only SPEC's cors, navigate and
// no-cors: same-origin and websocket come from a browser too, and no other client sends the header
// (except Node's global fetch, which always sends `cors`: see README "Browser requests").
// The refusal carries no Access-Control-* header, so a browser's script cannot even read it.
// Raises 403 FORBIDDEN. Reads: req.headers.origin, req.headers['sec-fetch-mode']. Writes: nothing.
import { ProxyError } from '../errors.js';
import type { RequestContext } from '../pipeline/context.js';

/** The reason a browser refusal carries: counted in custody_proxy_browser_refusals_total, never as an allowlist denial. */
export const BROWSER_REASON = 'browser_request';

// Two property reads on the headers Node already built: no allocation on the request path.
export function refuseBrowser(ctx: RequestContext): void {
  const headers = ctx.req.headers;
  if (headers.origin !== undefined || headers['sec-fetch-mode'] !== undefined) throw new ProxyError('FORBIDDEN', BROWSER_REASON);
}

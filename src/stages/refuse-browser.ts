// Browser requests (SPEC §5 rev 2; the guide: "never call the API from client-side code"): a request a
// browser made is refused with 403 FORBIDDEN before authentication, so a key pasted into a web page
// fails at once, whatever the key. Browsers mark their requests themselves and no script can remove
// the marks: `Origin` (every cross-origin request, every preflight `OPTIONS`, every POST) and the fetch
// metadata header `Sec-Fetch-Mode` with SPEC's values cors, navigate and no-cors (the modes of a page
// calling another origin or being navigated; Node's global fetch sends `cors` too: README "Browser
// requests"). same-origin and websocket pass, as SPEC lists only those three.
// The refusal carries no Access-Control-* header, so a browser's script cannot even read it.
// Raises 403 FORBIDDEN. Reads: req.headers.origin, req.headers['sec-fetch-mode']. Writes: nothing.
import { ProxyError } from '../errors.js';
import type { RequestContext } from '../pipeline/context.js';

/** The reason a browser refusal carries: counted in custody_proxy_browser_refusals_total, never as an allowlist denial. */
export const BROWSER_REASON = 'browser_request';

const BROWSER_MODES = new Set(['cors', 'navigate', 'no-cors']);

// Two property reads on the headers Node already built: no allocation on a request without them.
export function refuseBrowser(ctx: RequestContext): void {
  const headers = ctx.req.headers;
  const mode = headers['sec-fetch-mode'];
  if (headers.origin !== undefined || (mode !== undefined && BROWSER_MODES.has(mode.toLowerCase()))) {
    throw new ProxyError('FORBIDDEN', BROWSER_REASON);
  }
}

// The request target must be canonical and the body framing plain (SPEC §7), so the path that
// permissions see is the path the upstream gets. Raises 400 BAD_REQUEST.
// Reads: req.url, req.headers.host, req.headers['transfer-encoding'].
// Writes: ctx.path, ctx.target, req.url (origin-form).
import { ProxyError } from '../errors.js';
import { canonicalTarget } from '../net/canonical-target.js';
import type { RequestContext } from '../pipeline/context.js';

export function checkTarget(ctx: RequestContext): void {
  const { req } = ctx;
  const t = canonicalTarget(req.url ?? '', req.headers.host);
  if (!t) throw new ProxyError('BAD_REQUEST', 'non_canonical_target');
  // Only plain chunked framing is re-encoded faithfully; anything else (gzip, chunked) is refused.
  const te = req.headers['transfer-encoding'];
  if (te !== undefined && te.toLowerCase() !== 'chunked') throw new ProxyError('BAD_REQUEST', 'transfer_encoding');
  ctx.path = t.path;
  ctx.target = t.target;
  // Absolute-form naming this Host is forwarded in origin-form (the forwarder sends ctx.target).
  req.url = t.target;
}

// Request targets must be canonical (SPEC §7) because the upstream may normalise what the permission
// check did not: dot segments, `//`, backslashes and encoded `/`, `\` or NUL would let one path pass
// the check and reach the upstream as another. Absolute-form is accepted only for the Host itself.
// Servlet-style upstreams (Tomcat, Jetty, Spring) strip `;params` from each segment before resolving
// it, so `..;`, `.;x`, `%2e%2e%3b` are dot segments too, and `/;x/` is an empty one (`//`).

const ENCODED_FORBIDDEN = /%(?:2f|5c|00)/i;
const ENCODED_DOT = /%2e/gi;
const ENCODED_SEMICOLON = /%3b/gi;

/** The segment's name as a servlet container sees it: what comes before its first `;`. */
function segmentName(seg: string): string {
  const semi = seg.indexOf(';');
  return semi === -1 ? seg : seg.slice(0, semi);
}

function pathIsCanonical(path: string): boolean {
  if (path.charCodeAt(0) !== 47 /* / */) return false;
  if (path.includes('//') || path.includes('\\') || path.includes('#')) return false;
  let p = path;
  if (p.includes('%')) {
    if (ENCODED_FORBIDDEN.test(p)) return false;
    p = p.replace(ENCODED_DOT, '.').replace(ENCODED_SEMICOLON, ';');
  }
  const params = p.includes(';');
  if (!params && !p.includes('.')) return true;
  const segments = p.split('/');
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i] as string;
    const name = params ? segmentName(seg) : seg;
    if (name === '.' || name === '..') return false;
    // `/a/;x/b` is `/a//b` to a servlet container; a trailing `/` (empty last segment) stays allowed.
    if (name === '' && seg !== '') return false;
  }
  return true;
}

export interface CanonicalTarget {
  /** path without the query */
  readonly path: string;
  /** origin-form path + query, as it is forwarded */
  readonly target: string;
}

/** undefined when the target is not canonical (→ 400 BAD_REQUEST). */
export function canonicalTarget(url: string, host: string | undefined): CanonicalTarget | undefined {
  let target = url;
  if (url.charCodeAt(0) !== 47) {
    const m = /^https?:\/\/([^/?#]+)(.*)$/i.exec(url);
    if (!m || host === undefined || (m[1] ?? '').toLowerCase() !== host.toLowerCase()) return undefined;
    const rest = m[2] ?? '';
    // An empty path in absolute-form means "/" (RFC 9112 §3.2.2), also before a query.
    target = rest.startsWith('/') ? rest : `/${rest}`;
  }
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  if (!pathIsCanonical(path)) return undefined;
  return { path, target };
}

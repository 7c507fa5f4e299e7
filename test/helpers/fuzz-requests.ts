// fast-check generators for the request-front fuzz test: the bytes of one client connection, 1-3
// pipelined requests with random methods, paths, credentials, client-sent identity and override
// headers, 0-1100 filler header lines (both sides of the 100-line limit and of Node's 1000-line cut),
// odd or ambiguous framing before or after the filler, and bodies that may hold a second request.
// Each request line carries a `fz=<case>x<i>` query marker so what the upstream parsed can be matched.
import fc from 'fast-check';

export const METHODS = ['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'POST', 'PUT', 'PATCH'] as const;
export type Method = (typeof METHODS)[number];

/** canonical targets the proxy forwards (for key b only the /v1/reports ones) */
export const GOOD_PATHS = ['/v1/vaults', '/v1/vaults/v_1', '/v1/reports/daily', '/v1/reports/2026/q1', '/v1/a;b'] as const;

/** dot segments in their servlet and encoded spellings, `//`, encoded `/`, backslashes: all 400 */
export const ODD_PATHS = [
  '/v1/reports/..;/withdrawals',
  '/v1/reports/%2e%2e;/withdrawals',
  '/v1/reports/.;x/withdrawals',
  '/v1/%2e%2e/x',
  '/v1/..%3b/x',
  '/v1/%2e%2e%3b/x',
  '/v1/%2E%2E%3B/x',
  '/v1//x',
  '/v1/;x/y',
  '/v1/./x',
  '/v1/reports/a/..',
  '/v1/%2fx',
  '/v1\\x',
] as const;

/** a / b: the two tenants' valid keys (b may only GET /v1/reports/**) */
export const CREDENTIALS = ['a', 'b', 'wrong-secret', 'unknown-key', 'basic', 'dup-a-a', 'dup-a-b', 'dup-a-bad', 'none'] as const;
export type CredentialKind = (typeof CREDENTIALS)[number];

export const FRAMINGS = [
  'none',
  'cl',
  'cl-lower',
  'cl-padded',
  'cl-zero',
  'cl-twice',
  'cl-conflict',
  'te',
  'te-Chunked',
  'te-gzip-chunked',
  'te-space',
  'te-folded',
  'te-name-space',
  'te-twice',
  'cl-te',
  'te-cl',
] as const;
export type Framing = (typeof FRAMINGS)[number];

export const SMUGGLED = [
  'DELETE /v1/vaults/1 HTTP/1.1\r\nHost: x\r\nX-Tenant-Id: tnt_other\r\n\r\n',
  'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n',
  'POST /v1/withdrawals HTTP/1.1\r\nHost: x\r\nX-Tenant-Id: tnt_other\r\nContent-Length: 2\r\n\r\n{}',
  '0\r\n\r\nDELETE /v1/vaults/2 HTTP/1.1\r\nHost: x\r\n\r\n',
] as const;
export type Body = { readonly kind: 'empty' } | { readonly kind: 'text' } | { readonly kind: 'smuggle'; readonly which: number };

/** Identity, forwarding and override claims a client may send; none may reach the upstream as sent. */
export const CLIENT_CLAIMS = [
  'X-Tenant-Id: tnt_other',
  'x-tenant-id: tnt_beta',
  'X-TENANT-ID: tnt_alpha',
  'X_Tenant_Id: tnt_other',
  'X-Credential-Id: ck_test_other',
  'X-Request-Id: req_abababababababababababababababab',
  'x-request-id: client-chosen',
  'X-Forwarded-For: 10.9.8.7',
  'X-HTTP-Method-Override: DELETE',
  'X-Original-URL: /v1/withdrawals',
  'X-Rewrite-URL: /v1/withdrawals',
  'Connection: keep-alive, X-Tenant-Id',
] as const;

export interface FuzzRequest {
  readonly method: Method;
  readonly path: string;
  readonly credential: CredentialKind;
  readonly fillerCount: number;
  /** `aN:` (7 bytes a line) or `X-Fill-N: v` (about 16: past 1000 lines it meets the 16 KiB bound) */
  readonly fillerShort: boolean;
  readonly framing: Framing;
  readonly framingAfterFiller: boolean;
  readonly body: Body;
  readonly claims: readonly string[];
  /** one of a few keys shared by every case (replays, conflicts), one of this request's own, or none */
  readonly idempotencyKey: number | 'own' | undefined;
  /** one sort key per named line (Host, Authorization, claims, Idempotency-Key): < 85 before the filler */
  readonly order: readonly number[];
}

export interface FuzzCase {
  readonly requests: readonly FuzzRequest[];
  /** half-close right after writing, or once answered (bounded) half-close or close */
  readonly ending: 'half-close-now' | 'half-close-later' | 'close-later';
}

// Weighted towards the interesting regions: around 100 lines (the proxy's limit) and past 1000 (Node's
// cut), while leaving most requests short enough to be forwarded.
const fillerCount = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 12 }) },
  { weight: 2, arbitrary: fc.integer({ min: 90, max: 100 }) },
  { weight: 4, arbitrary: fc.integer({ min: 994, max: 1010 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1011, max: 1100 }) },
);

const path = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...GOOD_PATHS) }, { weight: 1, arbitrary: fc.constantFrom(...ODD_PATHS) });

// Mostly a valid credential, so requests get past authentication and their framing matters.
const credential = fc.oneof(
  { weight: 6, arbitrary: fc.constant<CredentialKind>('a') },
  { weight: 2, arbitrary: fc.constant<CredentialKind>('b') },
  { weight: 4, arbitrary: fc.constantFrom(...CREDENTIALS.filter((c) => c !== 'a' && c !== 'b')) },
);

// Framing a parser accepts is weighted up: it is what a cut header list would hide.
const framing = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom<Framing>('cl', 'cl-lower', 'cl-padded', 'te', 'te-Chunked', 'te-space') },
  { weight: 2, arbitrary: fc.constantFrom(...FRAMINGS) },
);

const body: fc.Arbitrary<Body> = fc.oneof(
  fc.constant<Body>({ kind: 'empty' }),
  fc.constant<Body>({ kind: 'text' }),
  { weight: 4, arbitrary: fc.integer({ min: 0, max: SMUGGLED.length - 1 }).map((which): Body => ({ kind: 'smuggle', which })) },
);

export const fuzzRequest: fc.Arbitrary<FuzzRequest> = fc.record({
  method: fc.constantFrom(...METHODS),
  path,
  credential,
  fillerCount,
  fillerShort: fc.boolean(),
  framing,
  framingAfterFiller: fc.boolean(),
  body,
  claims: fc.subarray([...CLIENT_CLAIMS]),
  idempotencyKey: fc.option(fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constant<'own'>('own')), { nil: undefined }),
  order: fc.array(fc.integer({ min: 0, max: 99 }), { minLength: 16, maxLength: 16 }),
});

export const fuzzCase: fc.Arbitrary<FuzzCase> = fc.record({
  requests: fc.array(fuzzRequest, { minLength: 1, maxLength: 3 }),
  ending: fc.constantFrom('half-close-later' as const, 'close-later' as const, 'half-close-now' as const),
});

// ---- rendering a case as bytes -------------------------------------------------------------------

export interface FuzzKey {
  readonly keyId: string;
  readonly secret: string;
  readonly tenant: string;
}

/** What the client put on one request line, to match what the upstream parsed. */
export interface SentRequest {
  readonly marker: string;
  readonly method: Method;
  readonly target: string;
  /** the credential, when the request carried exactly one Authorization line and it is valid */
  readonly key: FuzzKey | undefined;
  /** X-Request-Id values the client sent */
  readonly clientRequestIds: readonly string[];
}

export interface RenderedCase {
  readonly bytes: Buffer;
  readonly sent: readonly SentRequest[];
  /** the bytes as text with each filler block collapsed to one line, for failure messages */
  readonly summary: string;
}

const BEFORE_FILLER = 85;

function authorizationLines(kind: CredentialKind, a: FuzzKey, b: FuzzKey): string[] {
  const line = (k: FuzzKey, secret = k.secret): string => `Authorization: Bearer ${k.keyId}:${secret}`;
  switch (kind) {
    case 'a': return [line(a)];
    case 'b': return [line(b)];
    case 'wrong-secret': return [line(a, `${a.secret}x`)];
    case 'unknown-key': return [`Authorization: Bearer ck_test_nobody:${a.secret}`];
    case 'basic': return [`Authorization: Basic ${Buffer.from(`${a.keyId}:${a.secret}`).toString('base64')}`];
    case 'dup-a-a': return [line(a), line(a)];
    case 'dup-a-b': return [line(a), line(b)];
    case 'dup-a-bad': return [line(a), line(a, 'nope')];
    case 'none': return [];
  }
}

function payloadOf(body: Body): string {
  if (body.kind === 'empty') return '';
  if (body.kind === 'text') return 'hello=world';
  return SMUGGLED[body.which] ?? '';
}

const chunked = (payload: string): string => (payload ? `${payload.length.toString(16)}\r\n${payload}\r\n0\r\n\r\n` : '0\r\n\r\n');

/** The framing header lines and the body bytes that follow the head. */
function framed(framing: Framing, payload: string): { lines: string[]; wire: string } {
  const n = payload.length;
  switch (framing) {
    case 'none': return { lines: [], wire: payload };
    case 'cl': return { lines: [`Content-Length: ${n}`], wire: payload };
    case 'cl-lower': return { lines: [`content-length: ${n}`], wire: payload };
    case 'cl-padded': return { lines: [`Content-Length:   ${n}  `], wire: payload };
    case 'cl-zero': return { lines: ['Content-Length: 0'], wire: payload };
    case 'cl-twice': return { lines: [`Content-Length: ${n}`, `Content-Length: ${n}`], wire: payload };
    case 'cl-conflict': return { lines: [`Content-Length: ${n}`, `Content-Length: ${n + 5}`], wire: payload };
    case 'te': return { lines: ['Transfer-Encoding: chunked'], wire: chunked(payload) };
    case 'te-Chunked': return { lines: ['Transfer-Encoding: Chunked'], wire: chunked(payload) };
    case 'te-gzip-chunked': return { lines: ['Transfer-Encoding: gzip, chunked'], wire: chunked(payload) };
    case 'te-space': return { lines: ['Transfer-Encoding:  chunked'], wire: chunked(payload) };
    case 'te-folded': return { lines: ['Transfer-Encoding:', ' chunked'], wire: chunked(payload) };
    case 'te-name-space': return { lines: ['Transfer-Encoding : chunked'], wire: chunked(payload) };
    case 'te-twice': return { lines: ['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'], wire: chunked(payload) };
    case 'cl-te': return { lines: ['Content-Length: 4', 'Transfer-Encoding: chunked'], wire: chunked(payload) };
    case 'te-cl': return { lines: ['Transfer-Encoding: chunked', 'Content-Length: 60'], wire: chunked(payload) };
  }
}

function fillerLines(r: FuzzRequest): string[] {
  const out: string[] = [];
  for (let i = 0; i < r.fillerCount; i++) out.push(r.fillerShort ? `a${i}:` : `X-Fill-${i}: v`);
  return out;
}

/** Host, Authorization, the claims and Idempotency-Key, split around the filler by their sort keys. */
function namedLines(r: FuzzRequest, marker: string, a: FuzzKey, b: FuzzKey): { before: string[]; after: string[] } {
  const named = ['Host: 127.0.0.1', ...authorizationLines(r.credential, a, b), ...r.claims];
  if (r.idempotencyKey !== undefined) named.push(`Idempotency-Key: fz-key-${r.idempotencyKey === 'own' ? marker : r.idempotencyKey}`);
  const keyed = named.map((line, i) => ({ line, key: r.order[i % r.order.length] ?? 0 }));
  keyed.sort((x, y) => x.key - y.key);
  return {
    before: keyed.filter((k) => k.key < BEFORE_FILLER).map((k) => k.line),
    after: keyed.filter((k) => k.key >= BEFORE_FILLER).map((k) => k.line),
  };
}

function renderRequest(r: FuzzRequest, marker: string, a: FuzzKey, b: FuzzKey): { text: string; summary: string; sent: SentRequest } {
  const target = `${r.path}?fz=${marker}`;
  const { lines: framingLines, wire } = framed(r.framing, payloadOf(r.body));
  const { before, after } = namedLines(r, marker, a, b);
  const head = (filler: string[]): string[] => [
    `${r.method} ${target} HTTP/1.1`,
    ...before,
    ...(r.framingAfterFiller ? [] : framingLines),
    ...filler,
    ...(r.framingAfterFiller ? framingLines : []),
    ...after,
  ];
  const end = `\r\n\r\n${wire}`;
  const collapsed = r.fillerCount ? [`<${r.fillerCount} filler lines ${r.fillerShort ? "'aN:'" : "'X-Fill-N: v'"}>`] : [];
  const auth = authorizationLines(r.credential, a, b);
  const key = r.credential === 'a' ? a : r.credential === 'b' ? b : undefined;
  const clientRequestIds = r.claims.filter((c) => /^x-request-id:/i.test(c)).map((c) => c.slice(c.indexOf(':') + 1).trim());
  return {
    text: head(fillerLines(r)).join('\r\n') + end,
    summary: head(collapsed).join('\r\n') + end,
    sent: { marker, method: r.method, target, key: auth.length === 1 ? key : undefined, clientRequestIds },
  };
}

/** The case's bytes; request i carries the marker `<caseNo>x<i>` in its query. */
export function renderCase(c: FuzzCase, caseNo: number, a: FuzzKey, b: FuzzKey): RenderedCase {
  const parts = c.requests.map((r, i) => renderRequest(r, `${caseNo}x${i}`, a, b));
  return {
    bytes: Buffer.from(parts.map((p) => p.text).join(''), 'latin1'),
    sent: parts.map((p) => p.sent),
    summary: `[${c.ending}] ${JSON.stringify(parts.map((p) => p.summary).join(''))}`,
  };
}

// Unit tests of the stamp-headers stage (SPEC §7): req.headers is replaced by the upstream's set. Every
// name the proxy drops (credentials, hop-by-hop, its own names, client-IP claims, method/URL overrides)
// never passes whatever the client sent, nor does any name with `_`, nor what `Connection` lists, but
// a listing never removes Idempotency-Key or the end-to-end framing; the proxy sets Host, X-Tenant-Id,
// X-Credential-Id, X-Request-Id, X-Forwarded-For and X-Forwarded-Proto, and re-chunks a chunked body.
import t from 'tap';
import type { IncomingHttpHeaders } from 'node:http';
import { parseIp } from '../../../src/net/ip-match.js';
import type { RequestContext } from '../../../src/pipeline/context.js';
import { stampHeaders } from '../../../src/stages/stamp-headers.js';
import { fakeContext, fakeSocket, snapshotOf, type FakeRequest, type HeaderLine } from '../../helpers/fake-context.js';

const UPSTREAM_HOST = 'upstream.internal:9000';
const stamp = stampHeaders(UPSTREAM_HOST);
const snapshot = snapshotOf([{ id: 'tnt_a' }], [{ keyId: 'ck_a', tenant: 'tnt_a', secret: 's' }]);

/** Every name the proxy never forwards from the client: stamp-headers.ts's DROPPED, written out again. */
const DROPPED = [
  'authorization', 'proxy-authorization', 'proxy-authenticate', 'connection', 'keep-alive', 'proxy-connection', 'te',
  'trailer', 'transfer-encoding', 'upgrade', 'http2-settings', 'expect', 'host', 'x-tenant-id', 'x-credential-id',
  'x-request-id', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-forwarded-prefix',
  'x-forwarded-server', 'x-real-ip', 'forwarded', 'true-client-ip', 'cf-connecting-ip', 'x-client-ip',
  'x-cluster-client-ip', 'fastly-client-ip', 'x-http-method-override', 'x-http-method', 'x-method-override',
  'x-original-method', 'x-original-url', 'x-rewrite-url',
];

interface Stamped {
  readonly ctx: RequestContext;
  readonly out: IncomingHttpHeaders;
}

/** Runs the stage on an authenticated request from 198.51.100.9 (direct, untrusted) unless `spec` says otherwise. */
function stamped(headers: readonly HeaderLine[], spec: FakeRequest & { clientIp?: string | null; peerTrusted?: boolean } = {}): Stamped {
  const ctx = fakeContext({ snapshot, authenticatedAs: 'ck_a', headers, ...spec });
  const ip = spec.clientIp === undefined ? '198.51.100.9' : spec.clientIp;
  ctx.clientIp = ip === null ? null : (parseIp(ip) ?? null);
  ctx.peerTrusted = spec.peerTrusted ?? false;
  stamp(ctx);
  return { ctx, out: ctx.req.headers };
}

/** What the proxy itself sets on every request of `ctx` (direct client 198.51.100.9, plain http). */
const own = (ctx: RequestContext): IncomingHttpHeaders => ({
  host: UPSTREAM_HOST,
  'x-tenant-id': 'tnt_a',
  'x-credential-id': 'ck_a',
  'x-request-id': ctx.requestId,
  'x-forwarded-for': '198.51.100.9',
  'x-forwarded-proto': 'http',
});

t.test('a plain request: end-to-end headers kept, the proxy\'s own set', async (t) => {
  const { ctx, out } = stamped([
    ['Host', 'proxy.test'],
    ['Authorization', 'Bearer ck_a:s'],
    ['Accept', 'application/json'],
    ['Content-Type', 'application/json'],
    ['Content-Length', '2'],
    ['Idempotency-Key', 'k-1'],
    ['X-Custom', 'a'],
    ['x-custom', 'b'],
    ['Cookie', 'c=1'],
  ]);
  t.match(ctx.requestId, /^req_[0-9a-f]{32}$/);
  t.strictSame(out, {
    accept: 'application/json',
    'content-type': 'application/json',
    'content-length': '2',
    'idempotency-key': 'k-1',
    'x-custom': 'a, b',
    cookie: 'c=1',
    ...own(ctx),
  });
});

t.test('every dropped name, in any spelling, never passes; the proxy\'s own values replace the client\'s', async (t) => {
  for (const spell of [(n: string) => n, (n: string) => n.toUpperCase(), (n: string) => n.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase())]) {
    const lines: HeaderLine[] = DROPPED.map((name): HeaderLine => [spell(name), name === 'transfer-encoding' ? 'chunked' : 'spoof']);
    const { ctx, out } = stamped([...lines, ['Accept', '*/*']]);
    t.strictSame(out, { accept: '*/*', 'transfer-encoding': 'chunked', ...own(ctx) }, `${spell('x-forwarded-for')} style`);
  }
  for (const name of DROPPED.filter((n) => n !== 'host')) {
    const { out } = stamped([['Host', 'proxy.test'], [name, 'spoof']]);
    t.notOk(Object.values(out).includes('spoof'), `${name}: the client's value is gone`);
  }
});

t.test('names with `_` are dropped outright', async (t) => {
  const { ctx, out } = stamped([['Host', 'proxy.test'], ['X_Tenant_Id', 'tnt_evil'], ['x_forwarded_for', '10.0.0.1'], ['My_Header', 'v'], ['My-Header', 'kept']]);
  t.strictSame(out, { 'my-header': 'kept', ...own(ctx) });
});

t.test('Connection listings remove what they name, never the protected or the proxy\'s own', async (t) => {
  const { ctx, out } = stamped([
    ['Host', 'proxy.test'],
    ['Connection', 'X-Secret, idempotency-key , Content-Type,CONTENT-LENGTH, content-encoding, X-Tenant-Id, X-Request-Id, Host'],
    ['Connection', ' x-other'],
    ['X-Secret', 'hop'],
    ['X-Other', 'hop'],
    ['X-Kept', 'e2e'],
    ['Idempotency-Key', 'k-1'],
    ['Content-Type', 'text/plain'],
    ['Content-Length', '5'],
    ['Content-Encoding', 'gzip'],
  ]);
  t.strictSame(out, {
    'x-kept': 'e2e',
    'idempotency-key': 'k-1',
    'content-type': 'text/plain',
    'content-length': '5',
    'content-encoding': 'gzip',
    ...own(ctx),
  });
  for (const value of ['keep-alive', 'close', 'Keep-Alive']) {
    const r = stamped([['Host', 'p'], ['Connection', value], ['Keep-Alive', 'timeout=5'], ['X-Kept', 'e2e']]);
    t.strictSame(r.out, { 'x-kept': 'e2e', ...own(r.ctx) }, `Connection: ${value} lists nothing else`);
  }
});

t.test('X-Tenant-Id, X-Credential-Id and X-Forwarded-For only from what the checks found', async (t) => {
  const anonymous = fakeContext({ headers: [['Host', 'p'], ['X-Tenant-Id', 'tnt_evil']] });
  stamp(anonymous);
  t.strictSame(anonymous.req.headers, { host: UPSTREAM_HOST, 'x-request-id': anonymous.requestId, 'x-forwarded-proto': 'http' }, 'no credential, no client IP');
  const unknown = stamped([['Host', 'p'], ['X-Forwarded-For', '6.6.6.6']], { clientIp: null, peerTrusted: true });
  t.equal(unknown.out['x-forwarded-for'], undefined, 'unknown client IP: no X-Forwarded-For at all');
  t.equal(stamped([['Host', 'p']], { clientIp: '2001:db8::7' }).out['x-forwarded-for'], '2001:db8::7', 'IPv6 client');
  t.equal(stamped([['Host', 'p'], ['X-Forwarded-For', '6.6.6.6, 10.0.0.1']], { clientIp: '203.0.113.5', peerTrusted: true }).out['x-forwarded-for'], '203.0.113.5', 'the resolved client only, not the chain');
});

t.test('X-Forwarded-Proto is believed only from a trusted peer, and only http or https', async (t) => {
  const proto = (value: string | undefined, peerTrusted: boolean): unknown =>
    stamped(value === undefined ? [['Host', 'p']] : [['Host', 'p'], ['X-Forwarded-Proto', value]], { peerTrusted }).out['x-forwarded-proto'];
  t.equal(proto('https', true), 'https', 'trusted https');
  t.equal(proto('http', true), 'http', 'trusted http');
  t.equal(proto('https', false), 'http', 'untrusted https ignored');
  t.equal(proto('HTTPS', true), 'http', 'other spellings ignored');
  t.equal(proto('ftp', true), 'http', 'other schemes ignored');
  t.equal(proto('https, https', true), 'http', 'two values ignored');
  t.equal(proto(undefined, true), 'http', 'none sent');
});

t.test('over the TLS listener X-Forwarded-Proto is https unless a trusted proxy says how its client came', async (t) => {
  const proto = (value: string | undefined, peerTrusted: boolean): unknown => {
    const socket = fakeSocket('198.51.100.9');
    Object.defineProperty(socket, 'encrypted', { value: true });
    return stamped(value === undefined ? [['Host', 'p']] : [['Host', 'p'], ['X-Forwarded-Proto', value]], { peerTrusted, socket }).out['x-forwarded-proto'];
  };
  t.equal(proto(undefined, false), 'https', 'none sent');
  t.equal(proto('http', false), 'https', 'an untrusted claim is ignored');
  t.equal(proto('http', true), 'http', 'a trusted proxy reports its client plain HTTP');
  t.equal(proto('ftp', true), 'https', 'other schemes ignored');
});

t.test('a chunked body is chunked again; without one no framing is invented', async (t) => {
  const chunked = stamped([['Host', 'p'], ['Transfer-Encoding', 'Chunked'], ['TE', 'trailers'], ['Trailer', 'X-Sum']]);
  t.strictSame(chunked.out, { 'transfer-encoding': 'chunked', ...own(chunked.ctx) });
  const plain = stamped([['Host', 'p'], ['TE', 'trailers']]);
  t.equal(plain.out['transfer-encoding'], undefined, 'no Transfer-Encoding');
  t.equal(plain.out['content-length'], undefined, 'no Content-Length');
});

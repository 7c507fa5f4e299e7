// Unit tests of the resolve-client stage (SPEC §6): the TCP peer is the client unless it is a trusted
// proxy; then X-Forwarded-For (every line, joined in order) is walked right to left past trusted hops,
// and an entry that does not parse makes the client unknown (null). No other header is believed, and a
// connection's own peer is resolved once. Asserts ctx.clientIp and ctx.peerTrusted after each call.
import t from 'tap';
import { IpMatcher } from '../../../src/net/ip-match.js';
import type { RequestContext } from '../../../src/pipeline/context.js';
import { resolveClient } from '../../../src/stages/resolve-client.js';
import { fakeContext, fakeSocket, type FakeRequest } from '../../helpers/fake-context.js';

const untrusting = resolveClient(new IpMatcher([]));
const behindIngress = resolveClient(new IpMatcher(['10.0.0.0/8', 'fd00::/8']));

/** The client IP text (null: unknown) and peerTrusted after running `stage` on this request. */
function resolved(stage: (ctx: RequestContext) => void, spec: FakeRequest): { ip: string | null; peerTrusted: boolean } {
  const ctx = fakeContext(spec);
  const before = ctx.clientIp;
  if (before !== undefined) throw new Error('clientIp set before the stage ran');
  stage(ctx);
  const ip = ctx.clientIp;
  if (ip === undefined) throw new Error('resolve-client left clientIp undefined');
  return { ip: ip === null ? null : ip.text, peerTrusted: ctx.peerTrusted };
}

const xff = (...values: string[]): FakeRequest['headers'] => [['Host', 'proxy.test'], ...values.map((v): [string, string] => ['X-Forwarded-For', v])];

t.test('without trusted proxies the peer is the client, whatever the headers say', async (t) => {
  t.strictSame(resolved(untrusting, { remoteAddress: '203.0.113.7' }), { ip: '203.0.113.7', peerTrusted: false });
  t.strictSame(resolved(untrusting, { remoteAddress: '203.0.113.7', headers: xff('198.51.100.9') }), { ip: '203.0.113.7', peerTrusted: false }, 'X-Forwarded-For ignored');
  t.strictSame(resolved(untrusting, { remoteAddress: '::ffff:203.0.113.7' }), { ip: '203.0.113.7', peerTrusted: false }, 'IPv4-mapped peer folded to IPv4');
  t.strictSame(resolved(untrusting, { remoteAddress: '::1' }), { ip: '::1', peerTrusted: false }, 'IPv6 peer');
  t.strictSame(resolved(untrusting, { remoteAddress: undefined }), { ip: null, peerTrusted: false }, 'a socket already gone: unknown');
});

t.test('an untrusted peer is the client even when trusted proxies are configured', async (t) => {
  const headers: FakeRequest['headers'] = [['Host', 'p'], ['X-Forwarded-For', '10.0.0.1'], ['X-Real-IP', '10.0.0.2'], ['Forwarded', 'for=10.0.0.3']];
  t.strictSame(resolved(behindIngress, { remoteAddress: '203.0.113.7', headers }), { ip: '203.0.113.7', peerTrusted: false });
});

t.test('behind a trusted peer, X-Forwarded-For is walked right to left', async (t) => {
  const peer = { remoteAddress: '10.1.2.3' };
  t.strictSame(resolved(behindIngress, peer), { ip: '10.1.2.3', peerTrusted: true }, 'no X-Forwarded-For: the trusted peer itself');
  t.strictSame(resolved(behindIngress, { ...peer, headers: xff('198.51.100.9') }), { ip: '198.51.100.9', peerTrusted: true });
  t.strictSame(resolved(behindIngress, { ...peer, headers: xff('6.6.6.6, 198.51.100.9, 10.9.9.9') }), { ip: '198.51.100.9', peerTrusted: true }, 'spoofed prefix ignored, trusted hop skipped');
  t.strictSame(resolved(behindIngress, { ...peer, headers: xff('6.6.6.6', '198.51.100.9', '10.9.9.9') }), { ip: '198.51.100.9', peerTrusted: true }, 'several lines count as one list, in order');
  t.strictSame(resolved(behindIngress, { ...peer, headers: xff('10.0.0.9, 10.0.0.8') }), { ip: '10.0.0.9', peerTrusted: true }, 'all trusted: the leftmost');
  t.strictSame(resolved(behindIngress, { ...peer, headers: xff(' 198.51.100.9 ,10.0.0.8 ') }), { ip: '198.51.100.9', peerTrusted: true }, 'spaces around entries');
  t.strictSame(resolved(behindIngress, { ...peer, headers: xff('2001:db8::1, fd00::5') }), { ip: '2001:db8::1', peerTrusted: true }, 'IPv6 entries');
  t.strictSame(resolved(behindIngress, { ...peer, headers: xff('::ffff:198.51.100.9') }), { ip: '198.51.100.9', peerTrusted: true }, 'IPv4-mapped entry folded');
  t.strictSame(resolved(behindIngress, { remoteAddress: '::ffff:10.1.2.3', headers: xff('198.51.100.9') }), { ip: '198.51.100.9', peerTrusted: true }, 'IPv4-mapped trusted peer');
});

t.test('an entry that does not parse makes the client unknown, unless an untrusted one comes first', async (t) => {
  const peer = { remoteAddress: '10.1.2.3' };
  for (const list of ['198.51.100.9, garbage', 'unknown', '198.51.100.9:1234', '1.2.3', '010.1.1.1', '', '198.51.100.9,,10.0.0.8']) {
    t.strictSame(resolved(behindIngress, { ...peer, headers: xff(list) }), { ip: null, peerTrusted: true }, JSON.stringify(list));
  }
  t.strictSame(resolved(behindIngress, { ...peer, headers: xff('garbage, 198.51.100.9') }), { ip: '198.51.100.9', peerTrusted: true }, 'the walk stops at the first untrusted entry');
});

t.test("a connection's peer is resolved once, not per request", async (t) => {
  const socket = fakeSocket('203.0.113.7');
  t.strictSame(resolved(untrusting, { socket }), { ip: '203.0.113.7', peerTrusted: false });
  // Node never changes a socket's peer; a changed one proves the first answer was kept.
  Object.defineProperty(socket, 'remoteAddress', { value: '203.0.113.8' });
  t.strictSame(resolved(untrusting, { socket }), { ip: '203.0.113.7', peerTrusted: false }, 'kept on the socket');
  t.strictSame(resolved(untrusting, { socket: fakeSocket('203.0.113.8') }), { ip: '203.0.113.8', peerTrusted: false }, 'another connection');
});

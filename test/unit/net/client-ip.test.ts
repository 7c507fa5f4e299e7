// Client IP resolution (SPEC §6): the TCP peer unless it is a trusted proxy; then X-Forwarded-For is
// walked right to left skipping trusted hops, all trusted → leftmost, an unparsable entry on the walk
// → unknown (null), no X-Forwarded-For → the peer. IPv4-mapped peers count as IPv4.
import t from 'tap';
import { resolveClientIp } from '../../../src/net/client-ip.js';
import { IpMatcher } from '../../../src/net/ip-match.js';

const TRUSTED = new IpMatcher(['10.0.0.0/8', 'fd00::/8']);
const NONE = new IpMatcher([]);

const client = (peer: string | undefined, xff: string | undefined, trusted = TRUSTED): string | null | undefined => {
  const r = resolveClientIp(peer, xff, trusted);
  return r.ip === null ? null : r.ip.text;
};

t.test('an untrusted peer is the client; X-Forwarded-For is ignored', async (t) => {
  t.equal(client('203.0.113.9', '1.1.1.1'), '203.0.113.9');
  t.equal(client('203.0.113.9', 'garbage'), '203.0.113.9', 'not even parsed');
  t.equal(resolveClientIp('203.0.113.9', '1.1.1.1', TRUSTED).peerTrusted, false);
  t.equal(client('10.0.0.1', '1.1.1.1', NONE), '10.0.0.1', 'no trusted proxies configured');
  t.equal(client('::ffff:203.0.113.9', undefined), '203.0.113.9', 'mapped peer folded');
  t.equal(client('2001:db8::5', '1.1.1.1'), '2001:db8::5');
});

t.test('a trusted peer without X-Forwarded-For is the client', async (t) => {
  t.equal(client('10.0.0.1', undefined), '10.0.0.1');
  t.equal(resolveClientIp('10.0.0.1', undefined, TRUSTED).peerTrusted, true);
  t.equal(client('::ffff:10.0.0.1', undefined), '10.0.0.1', 'a mapped peer is trusted by its IPv4 range');
});

t.test('trusted peer: X-Forwarded-For walked right to left', async (t) => {
  t.equal(client('10.0.0.1', '198.51.100.7'), '198.51.100.7');
  t.equal(client('10.0.0.1', '198.51.100.7, 10.0.0.2'), '198.51.100.7', 'trusted hop skipped');
  t.equal(client('10.0.0.1', '6.6.6.6, 198.51.100.7, 10.0.0.2, 10.0.0.3'), '198.51.100.7', 'first untrusted from the right, not the leftmost');
  t.equal(client('10.0.0.1', '6.6.6.6,198.51.100.7'), '198.51.100.7', 'without spaces');
  t.equal(client('::ffff:10.0.0.1', '2001:db8::9, fd00::1'), '2001:db8::9', 'IPv6 entries');
  t.equal(client('10.0.0.1', '::ffff:198.51.100.7'), '198.51.100.7', 'mapped entry folded');
  t.equal(resolveClientIp('10.0.0.1', '198.51.100.7', TRUSTED).peerTrusted, true);
});

t.test('all entries trusted → the leftmost', async (t) => {
  t.equal(client('10.0.0.1', '10.0.0.5, 10.0.0.4, fd00::3'), '10.0.0.5');
  t.equal(client('10.0.0.1', '10.9.9.9'), '10.9.9.9');
});

t.test('an unparsable entry on the walk → unknown', async (t) => {
  for (const xff of ['garbage', 'garbage, 10.0.0.2', '198.51.100.7:4711', '[2001:db8::1]', '010.0.0.1', '', '198.51.100.7,,10.0.0.2', 'unknown', '1.2.3']) {
    t.equal(client('10.0.0.1', xff), null, JSON.stringify(xff));
  }
  t.equal(resolveClientIp('10.0.0.1', 'garbage', TRUSTED).peerTrusted, true);
});

t.test('an unusable peer is unknown', async (t) => {
  t.equal(client(undefined, '1.1.1.1'), null);
  t.equal(client('not-an-ip', undefined), null);
});

// IP parsing and matching (SPEC §4, §6): strict four-part decimal IPv4, IPv6 forms, IPv4-mapped IPv6
// folded to IPv4, CIDR parsing that clears host bits, and IpMatcher containment for v4, v6 and /0.
import t from 'tap';
import { IpMatcher, parseCidr, parseIp, parsePeer, type Ip } from '../../../src/net/ip-match.js';

function ip(text: string): Ip {
  const p = parseIp(text);
  if (!p) throw new Error(`test bug: ${text} does not parse`);
  return p;
}

t.test('strict IPv4', async (t) => {
  t.same(parseIp('1.2.3.4'), { family: 4, v4: 0x01020304, text: '1.2.3.4' });
  t.same(parseIp('255.255.255.255'), { family: 4, v4: 0xffffffff, text: '255.255.255.255' });
  t.same(parseIp('0.0.0.0'), { family: 4, v4: 0, text: '0.0.0.0' });
  for (const bad of ['010.0.0.1', '1.2.3', '01.2.3.4', '1.2.3.4.5', ' 1.2.3.4', '1.2.3.4 ', '256.1.1.1', '1.2.3.-1', '0x7f.0.0.1', '2130706433', '1..2.3', '', 'a.b.c.d', '1.2.3.4/32']) {
    t.equal(parseIp(bad), undefined, JSON.stringify(bad));
  }
});

t.test('IPv6 forms', async (t) => {
  t.same(parseIp('::1'), { family: 6, v6: 1n, text: '::1' });
  t.same(parseIp('::'), { family: 6, v6: 0n, text: '::' });
  const full = parseIp('2001:0db8:0000:0000:0000:0000:0000:0001');
  t.equal(full?.family, 6);
  t.same(parseIp('2001:db8::1'), full, 'compressed and full forms are the same address');
  t.same(parseIp('2001:DB8::1'), full, 'hex case does not matter');
  t.equal(parseIp('1:2:3:4:5:6:7:8')?.family, 6);
  t.equal(parseIp('64:ff9b::192.0.2.33')?.family, 6, 'embedded dotted IPv4 tail');
  for (const bad of ['1:2:3:4:5:6:7:8:9', '[::1]', 'fe80::1%eth0', ':::1', '2001:db8::g', '::ffff:010.1.2.3', '::ffff:1.2.3', '12345::1']) {
    t.equal(parseIp(bad), undefined, JSON.stringify(bad));
  }
  t.equal(parseIp('fe80::1%eth0', true)?.family, 6, 'a zone is allowed only when asked for (TCP peers)');
});

t.test('IPv4-mapped IPv6 is folded to IPv4', async (t) => {
  t.same(parseIp('::ffff:10.1.2.3'), { family: 4, v4: 0x0a010203, text: '10.1.2.3' });
  t.same(parseIp('::ffff:0a01:0203'), parseIp('10.1.2.3'), 'hex form of the mapped address');
  t.same(parsePeer('::ffff:10.1.2.3'), parseIp('10.1.2.3'), 'Node peer address');
  t.same(parsePeer('127.0.0.1'), parseIp('127.0.0.1'));
  t.same(parsePeer('::1'), parseIp('::1'));
  t.equal(parsePeer(undefined), undefined);
  const m = new IpMatcher(['10.0.0.0/8']);
  t.equal(m.contains(ip('::ffff:10.1.2.3')), true, '::ffff:10.1.2.3 is inside 10.0.0.0/8');
  t.equal(m.contains(ip('::ffff:11.1.2.3')), false);
  const mapped = new IpMatcher(['::ffff:10.0.0.0/104']);
  t.equal(mapped.contains(ip('10.200.0.1')), true, 'a mapped range covers the IPv4 addresses');
  t.equal(mapped.contains(ip('11.0.0.1')), false);
});

t.test('parseCidr', async (t) => {
  t.same(parseCidr('10.1.2.3/8'), { family: 4, base: 0x0a000000, prefix: 8 }, 'host bits cleared');
  t.same(parseCidr('10.1.2.3'), { family: 4, base: 0x0a010203, prefix: 32 }, 'an address is a /32');
  t.same(parseCidr('192.168.255.255/16'), parseCidr('192.168.0.0/16'));
  t.same(parseCidr('0.0.0.0/0'), { family: 4, base: 0, prefix: 0 });
  t.same(parseCidr('255.255.255.255/0'), { family: 4, base: 0, prefix: 0 }, '/0 clears every bit');
  t.same(parseCidr('2001:db8:1::5/48'), parseCidr('2001:db8:1::/48'), 'v6 host bits cleared');
  t.same(parseCidr('2001:db8:1:2:3:4:5:6/128'), { family: 6, base: 0x20010db8000100020003000400050006n, prefix: 128 });
  t.same(parseCidr('2001:db8:1::5/48'), { family: 6, base: 0x20010db8000100000000000000000000n, prefix: 48 });
  t.same(parseCidr('::1'), { family: 6, base: 1n, prefix: 128 });
  t.same(parseCidr('::/0'), { family: 6, base: 0n, prefix: 0 });
  for (const bad of ['1.2.3.4/33', '::1/129', '1.2.3.4/', '1.2.3.4/-1', '1.2.3.4/08', '1.2.3.4/8/8', '010.0.0.0/8', 'hello/8', '/8', '::ffff:10.0.0.0/95', 'fe80::1%eth0/64']) {
    t.equal(parseCidr(bad), undefined, JSON.stringify(bad));
  }
});

t.test('IpMatcher: IPv4', async (t) => {
  const m = new IpMatcher(['203.0.113.0/24', '198.51.100.42/32', '10.1.2.3/8']);
  t.equal(m.empty, false);
  t.equal(m.contains(ip('203.0.113.0')), true);
  t.equal(m.contains(ip('203.0.113.255')), true);
  t.equal(m.contains(ip('203.0.114.0')), false);
  t.equal(m.contains(ip('203.0.112.255')), false);
  t.equal(m.contains(ip('198.51.100.42')), true);
  t.equal(m.contains(ip('198.51.100.43')), false);
  t.equal(m.contains(ip('10.255.0.1')), true, 'entry written with host bits still covers the range');
  t.equal(m.contains(ip('2001:db8::1')), false, 'IPv6 never matches an IPv4 range');
  const top = new IpMatcher(['128.0.0.0/1']);
  t.equal(top.contains(ip('255.255.255.255')), true, 'high bit (no sign trouble)');
  t.equal(top.contains(ip('127.255.255.255')), false);
});

t.test('IpMatcher: IPv6', async (t) => {
  const m = new IpMatcher(['2001:db8:1::/48', '::1']);
  t.equal(m.contains(ip('2001:db8:1::')), true);
  t.equal(m.contains(ip('2001:db8:1:ffff:ffff:ffff:ffff:ffff')), true);
  t.equal(m.contains(ip('2001:db8:2::')), false);
  t.equal(m.contains(ip('2001:db8:0:ffff::1')), false);
  t.equal(m.contains(ip('::1')), true);
  t.equal(m.contains(ip('::2')), false);
  t.equal(m.contains(ip('1.2.3.4')), false, 'IPv4 never matches an IPv6 range');
});

t.test('IpMatcher: /0', async (t) => {
  const v4 = new IpMatcher(['0.0.0.0/0']);
  for (const a of ['0.0.0.0', '1.2.3.4', '255.255.255.255', '::ffff:9.9.9.9']) t.equal(v4.contains(ip(a)), true, a);
  t.equal(v4.contains(ip('::1')), false, 'v4 /0 is not every IPv6 address');
  const v6 = new IpMatcher(['::/0']);
  for (const a of ['::', '::1', '2001:db8::1', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff']) t.equal(v6.contains(ip(a)), true, a);
  t.equal(v6.contains(ip('1.2.3.4')), false, 'v6 /0 is not IPv4 (mapped addresses count as IPv4)');
});

t.test('IpMatcher: empty and invalid', async (t) => {
  const none = new IpMatcher([]);
  t.equal(none.empty, true);
  t.equal(none.contains(ip('1.2.3.4')), false);
  t.throws(() => new IpMatcher(['10.0.0.0/33']));
});

// SPEC §6 client IP and per-tenant IP allowlist over real sockets: IPv4, IPv6 (::1), IPv4-mapped
// peers on a dual-stack listener, empty/null lists, the trustedProxies X-Forwarded-For walk (all
// lines, right to left, spoofed prefixes, all-trusted, unparsable entries), headers never believed,
// the 403 body, and no `100 Continue` before the allowlist passed. Upstream receipt checked each time.
import t, { type Test } from 'tap';
import net from 'node:net';
import { startUpstream, type RecordingUpstream } from '../helpers/recording-upstream.js';
import { startProxy, type TestProxy } from '../helpers/start-proxy.js';
import { credentialsYaml, bearer, type KeySpec, type TenantSpec } from '../helpers/credentials.js';
import { request, rawRequest, type Reply } from '../helpers/http-client.js';

interface Env {
  readonly proxy: TestProxy;
  readonly upstream: RecordingUpstream;
}

const key: KeySpec = { keyId: 'ck_test_allow', tenant: 'tnt_a', secret: 'sk_test_allow_secret' };

/** One tenant `tnt_a` with this allowlist and one active key. */
async function setup(t: Test, ipAllowList: string[] | null | undefined, config?: Record<string, unknown>): Promise<Env> {
  const tenant: TenantSpec = ipAllowList === undefined ? { id: 'tnt_a' } : { id: 'tnt_a', ipAllowList };
  const upstream = await startUpstream();
  const proxy = await startProxy({
    upstreamUrl: upstream.url,
    credentialsYaml: credentialsYaml([tenant], [key]),
    ...(config ? { config } : {}),
  });
  t.teardown(async () => {
    await proxy.close();
    await upstream.close();
  });
  return { proxy, upstream };
}

/** request() to a literal loopback host of either family, e.g. ::1. */
function requestAt(host: string, port: number, path: string, headers: ReadonlyArray<readonly [string, string]>): Promise<Reply> {
  return request(`http://${net.isIPv6(host) ? `[${host}]` : host}:${port}`, { path, headers, timeoutMs: 5000 });
}

const get = (env: Env, headers: ReadonlyArray<readonly [string, string]> = []): Promise<Reply> =>
  request(env.proxy.url, { path: '/v1/vaults', headers: [['Authorization', bearer(key)], ...headers] });

/** The §10 403: fixed body, no hint of the IP, the key id, or which check failed. */
function assertForbidden(t: Test, r: Reply, what: string, clientIp = '127.0.0.1'): void {
  t.equal(r.status, 403, `${what}: 403`);
  t.match(r.headers['content-type'] ?? '', /^application\/json\b/, `${what}: JSON`);
  t.equal(r.headers['cache-control'], 'no-store', `${what}: no-store`);
  t.equal(r.headers['www-authenticate'], undefined, `${what}: no WWW-Authenticate on 403`);
  const body = r.json();
  t.same(Object.keys(body).sort(), ['code', 'message', 'requestId'], `${what}: body keys`);
  t.equal(body['code'], 'FORBIDDEN', `${what}: FORBIDDEN`);
  t.equal(body['requestId'], r.headers['x-request-id'], `${what}: requestId = X-Request-Id`);
  const message = String(body['message']);
  t.ok(message.length > 0, `${what}: has a message`);
  t.notOk(message.includes(clientIp), `${what}: message does not echo the client IP`);
  t.notOk(message.includes(key.keyId), `${what}: message does not echo the key id`);
  t.notMatch(message, /allow|\bips?\b|address|permission|cidr|tenant|proxy|forwarded/i, `${what}: message does not say which check failed`);
  t.notOk(r.text.includes(clientIp), `${what}: body does not contain the client IP`);
  t.notOk(r.text.includes(key.keyId), `${what}: body does not contain the key id`);
}

function assertForwarded(t: Test, env: Env, r: Reply, xff: string, what: string): void {
  t.equal(r.status, 200, `${what}: 200`);
  t.equal(env.upstream.requests.length, 1, `${what}: upstream called once`);
  const got = env.upstream.requests[0];
  t.same(got ? env.upstream.headerLines(got, 'x-forwarded-for') : [], [xff], `${what}: upstream X-Forwarded-For is exactly ${xff}`);
  t.same(got ? env.upstream.headerLines(got, 'x-tenant-id') : [], ['tnt_a'], `${what}: X-Tenant-Id`);
}

async function ipv6Loopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(0, '::1', () => s.close(() => resolve(true)));
  });
}

t.test('IPv4 peer inside the allowlist is forwarded', async (t) => {
  const env = await setup(t, ['127.0.0.1/32']);
  assertForwarded(t, env, await get(env), '127.0.0.1', '127.0.0.1/32');
});

t.test('a matching entry anywhere in the list allows; a bare address is a /32', async (t) => {
  const env = await setup(t, ['203.0.113.0/24', '2001:db8::/32', '127.0.0.1']);
  assertForwarded(t, env, await get(env), '127.0.0.1', 'third entry');
});

t.test('IPv4 peer outside the allowlist gets 403 and the upstream is not called', async (t) => {
  const env = await setup(t, ['10.0.0.0/8']);
  assertForbidden(t, await get(env), '10.0.0.0/8 only');
  t.equal(env.upstream.requests.length, 0, 'upstream not called');
});

t.test('a /31 that just misses 127.0.0.1 denies', async (t) => {
  const env = await setup(t, ['127.0.0.2/31', '126.255.255.255/32']);
  assertForbidden(t, await get(env), 'neighbouring ranges');
  t.equal(env.upstream.requests.length, 0, 'upstream not called');
});

t.test('empty, null and absent allowlists allow every IP', async (t) => {
  for (const [what, list] of [['[]', []], ['null', null], ['absent', undefined]] as const) {
    await t.test(what, async (t) => {
      const env = await setup(t, list === null || list === undefined ? list : [...list]);
      assertForwarded(t, env, await get(env), '127.0.0.1', what);
    });
  }
});

const noIpv6 = (await ipv6Loopback()) ? false : 'no IPv6 loopback (::1) on this machine';

t.test('IPv6 client on [::1]', { skip: noIpv6 }, async (t) => {
  await t.test('::1/128 allows', async (t) => {
    const env = await setup(t, ['::1/128'], { listen: '[::1]:0' });
    const r = await requestAt('::1', env.proxy.port, '/v1/vaults', [['Authorization', bearer(key)]]);
    assertForwarded(t, env, r, '::1', '::1/128');
  });
  await t.test('2001:db8::/32 denies ::1', async (t) => {
    const env = await setup(t, ['2001:db8::/32'], { listen: '[::1]:0' });
    const r = await requestAt('::1', env.proxy.port, '/v1/vaults', [['Authorization', bearer(key)]]);
    assertForbidden(t, r, '2001:db8::/32', '::1');
    t.equal(env.upstream.requests.length, 0, 'upstream not called');
  });
  await t.test('an IPv4 list denies the IPv6 peer', async (t) => {
    const env = await setup(t, ['127.0.0.1/32', '0.0.0.0/0'], { listen: '[::1]:0' });
    const r = await requestAt('::1', env.proxy.port, '/v1/vaults', [['Authorization', bearer(key)]]);
    assertForbidden(t, r, 'IPv4-only list', '::1');
    t.equal(env.upstream.requests.length, 0, 'upstream not called');
  });
});

t.test('IPv4-mapped peer (::ffff:127.0.0.1) on a dual-stack listener counts as 127.0.0.1', { skip: noIpv6 }, async (t) => {
  await t.test('127.0.0.1/32 allows', async (t) => {
    const env = await setup(t, ['127.0.0.1/32'], { listen: '[::]:0' });
    // the peer is really seen as mapped: a raw server on [::] reports it so on this machine
    const seen = await new Promise<string | undefined>((resolve) => {
      const s = net.createServer((c) => {
        resolve(c.remoteAddress);
        c.destroy();
        s.close();
      });
      s.listen(0, '::', () => {
        const addr = s.address();
        if (addr && typeof addr === 'object') net.connect(addr.port, '127.0.0.1').on('error', () => undefined);
      });
    });
    t.equal(seen, '::ffff:127.0.0.1', 'dual-stack listener sees a mapped peer');
    const r = await request(env.proxy.url, { path: '/v1/vaults', headers: [['Authorization', bearer(key)]] });
    assertForwarded(t, env, r, '127.0.0.1', 'mapped peer, IPv4 list');
  });
  await t.test('10.0.0.0/8 still denies the mapped peer', async (t) => {
    const env = await setup(t, ['10.0.0.0/8'], { listen: '[::]:0' });
    const r = await request(env.proxy.url, { path: '/v1/vaults', headers: [['Authorization', bearer(key)]] });
    assertForbidden(t, r, 'mapped peer, other IPv4 list');
    t.equal(env.upstream.requests.length, 0, 'upstream not called');
  });
  await t.test('an IPv6 list (::/0 minus the mapped space) does not allow the mapped peer', async (t) => {
    const env = await setup(t, ['2001:db8::/32', '::1/128'], { listen: '[::]:0' });
    const r = await request(env.proxy.url, { path: '/v1/vaults', headers: [['Authorization', bearer(key)]] });
    assertForbidden(t, r, 'mapped peer, IPv6 list');
    t.equal(env.upstream.requests.length, 0, 'upstream not called');
  });
});

const trusted = { trustedProxies: ['127.0.0.1/32'] };

t.test('trusted proxy: X-Forwarded-For names the client', async (t) => {
  await t.test('single entry → that client', async (t) => {
    const env = await setup(t, ['203.0.113.0/24'], trusted);
    assertForwarded(t, env, await get(env, [['X-Forwarded-For', '203.0.113.7']]), '203.0.113.7', 'XFF 203.0.113.7');
  });
  await t.test('single entry outside the list → 403', async (t) => {
    const env = await setup(t, ['198.51.100.0/24'], trusted);
    assertForbidden(t, await get(env, [['X-Forwarded-For', '203.0.113.7']]), 'XFF 203.0.113.7 not listed', '203.0.113.7');
    t.equal(env.upstream.requests.length, 0, 'upstream not called');
  });
  await t.test('the peer itself is not the client any more', async (t) => {
    const env = await setup(t, ['127.0.0.1/32'], trusted);
    assertForbidden(t, await get(env, [['X-Forwarded-For', '203.0.113.7']]), 'peer listed, forwarded client not', '203.0.113.7');
    t.equal(env.upstream.requests.length, 0, 'upstream not called');
  });
  await t.test('no X-Forwarded-For from a trusted peer → the peer', async (t) => {
    const env = await setup(t, ['127.0.0.1/32'], trusted);
    assertForwarded(t, env, await get(env), '127.0.0.1', 'trusted peer without XFF');
  });
  await t.test('IPv6 entry', async (t) => {
    const env = await setup(t, ['2001:db8::/32'], trusted);
    assertForwarded(t, env, await get(env, [['X-Forwarded-For', '2001:db8::7']]), '2001:db8::7', 'XFF 2001:db8::7');
  });
});

t.test('trusted proxy: every X-Forwarded-For line is walked, right to left', async (t) => {
  await t.test('"203.0.113.7" + "198.51.100.1, 127.0.0.1" → 198.51.100.1', async (t) => {
    const env = await setup(t, ['198.51.100.0/24'], trusted);
    const r = await get(env, [['X-Forwarded-For', '203.0.113.7'], ['X-Forwarded-For', '198.51.100.1, 127.0.0.1']]);
    assertForwarded(t, env, r, '198.51.100.1', 'two lines');
  });
  await t.test('same lines, list with only the first line’s address → 403', async (t) => {
    const env = await setup(t, ['203.0.113.0/24'], trusted);
    const r = await get(env, [['X-Forwarded-For', '203.0.113.7'], ['X-Forwarded-For', '198.51.100.1, 127.0.0.1']]);
    assertForbidden(t, r, 'not the first line', '198.51.100.1');
    t.equal(env.upstream.requests.length, 0, 'upstream not called');
  });
  await t.test('"203.0.113.7" + "127.0.0.1" → 203.0.113.7 (the earlier line counts)', async (t) => {
    const env = await setup(t, ['203.0.113.0/24'], trusted);
    const r = await get(env, [['X-Forwarded-For', '203.0.113.7'], ['X-Forwarded-For', '127.0.0.1']]);
    assertForwarded(t, env, r, '203.0.113.7', 'earlier line');
  });
});

t.test('trusted proxy: a client-prepended spoof is not believed', async (t) => {
  await t.test('"203.0.113.7, 198.51.100.99" with only 203.0.113.0/24 listed → 403', async (t) => {
    const env = await setup(t, ['203.0.113.0/24'], trusted);
    assertForbidden(t, await get(env, [['X-Forwarded-For', '203.0.113.7, 198.51.100.99']]), 'spoof', '198.51.100.99');
    t.equal(env.upstream.requests.length, 0, 'upstream not called');
  });
  await t.test('the rightmost untrusted entry is the client', async (t) => {
    const env = await setup(t, ['198.51.100.0/24'], trusted);
    assertForwarded(t, env, await get(env, [['X-Forwarded-For', '203.0.113.7, 198.51.100.99']]), '198.51.100.99', 'rightmost untrusted');
  });
});

t.test('trusted proxy: every hop trusted → the leftmost', async (t) => {
  const cfg = { trustedProxies: ['127.0.0.1/32', '10.0.0.0/8'] };
  await t.test('leftmost allowed', async (t) => {
    const env = await setup(t, ['10.1.1.1/32'], cfg);
    assertForwarded(t, env, await get(env, [['X-Forwarded-For', '10.1.1.1, 10.2.2.2']]), '10.1.1.1', 'all trusted');
  });
  await t.test('only the nearest hop allowed → 403', async (t) => {
    const env = await setup(t, ['10.2.2.2/32', '127.0.0.1/32'], cfg);
    assertForbidden(t, await get(env, [['X-Forwarded-For', '10.1.1.1, 10.2.2.2']]), 'not leftmost', '10.1.1.1');
    t.equal(env.upstream.requests.length, 0, 'upstream not called');
  });
});

t.test('trusted proxy: an unparsable entry makes the client unknown', async (t) => {
  // [header value, the unparsable entry in it]
  const bad: Array<[string, string]> = [
    ['garbage', 'garbage'],
    ['1.2.3.4:80', '1.2.3.4:80'],
    ['010.1.1.1', '010.1.1.1'],
    ['203.0.113.7, garbage', 'garbage'],
    ['[2001:db8::1]', '[2001:db8::1]'],
    ['203.0.113.7 , 1.2.3', '1.2.3'],
    ['unknown', 'unknown'],
  ];
  for (const [xff, entry] of bad) {
    await t.test(`${JSON.stringify(xff)} with an allowlist → 403`, async (t) => {
      const env = await setup(t, ['0.0.0.0/0', '::/0'], trusted);
      assertForbidden(t, await get(env, [['X-Forwarded-For', xff]]), xff);
      t.equal(env.upstream.requests.length, 0, 'upstream not called');
    });
    await t.test(`${JSON.stringify(xff)} without an allowlist → 200`, async (t) => {
      const env = await setup(t, [], trusted);
      const r = await get(env, [['X-Forwarded-For', xff]]);
      t.equal(r.status, 200, 'forwarded');
      t.equal(env.upstream.requests.length, 1, 'upstream called once');
      const got = env.upstream.requests[0];
      const lines = got ? env.upstream.headerLines(got, 'x-forwarded-for') : [];
      t.notOk(lines.some((l) => l.includes(entry)), 'the unparsable entry is not passed on as the client');
      t.ok(lines.length <= 1, 'at most one X-Forwarded-For line');
    });
  }
});

t.test('without trustedProxies the client’s X-Forwarded-For is ignored', async (t) => {
  await t.test('XFF 203.0.113.7 from 127.0.0.1, list 203.0.113.0/24 → 403', async (t) => {
    const env = await setup(t, ['203.0.113.0/24']);
    assertForbidden(t, await get(env, [['X-Forwarded-For', '203.0.113.7']]), 'untrusted XFF');
    t.equal(env.upstream.requests.length, 0, 'upstream not called');
  });
  await t.test('no list: the upstream gets the peer only', async (t) => {
    const env = await setup(t, null);
    assertForwarded(t, env, await get(env, [['X-Forwarded-For', '203.0.113.7'], ['X-Forwarded-For', '198.51.100.1']]), '127.0.0.1', 'XFF replaced');
  });
  await t.test('trustedProxies that do not contain the peer: ignored too', async (t) => {
    const env = await setup(t, ['203.0.113.0/24'], { trustedProxies: ['10.0.0.0/8'] });
    assertForbidden(t, await get(env, [['X-Forwarded-For', '203.0.113.7']]), 'peer not trusted');
    t.equal(env.upstream.requests.length, 0, 'upstream not called');
  });
});

t.test('X-Real-IP, Forwarded and friends are never believed', async (t) => {
  const claims: Array<[string, string]> = [
    ['X-Real-IP', '203.0.113.7'],
    ['Forwarded', 'for=203.0.113.7'],
    ['Forwarded', 'for="203.0.113.7";proto=https'],
    ['True-Client-IP', '203.0.113.7'],
    ['CF-Connecting-IP', '203.0.113.7'],
    ['X-Client-IP', '203.0.113.7'],
    ['X-Cluster-Client-IP', '203.0.113.7'],
  ];
  for (const cfg of [undefined, trusted]) {
    const label = cfg ? 'trusted peer' : 'untrusted peer';
    await t.test(`${label}: denied`, async (t) => {
      const env = await setup(t, ['203.0.113.0/24'], cfg);
      for (const claim of claims) assertForbidden(t, await get(env, [claim]), `${label} ${claim[0]}`);
      t.equal(env.upstream.requests.length, 0, 'upstream not called');
    });
  }
  await t.test('forwarded: the upstream gets the peer, not the claims', async (t) => {
    const env = await setup(t, ['127.0.0.1/32'], trusted);
    assertForwarded(t, env, await get(env, [['X-Real-IP', '203.0.113.7'], ['Forwarded', 'for=203.0.113.7']]), '127.0.0.1', 'claims ignored');
    const got = env.upstream.requests[0];
    t.same(got ? env.upstream.headerLines(got, 'x-real-ip') : ['?'], [], 'X-Real-IP not passed on');
    t.same(got ? env.upstream.headerLines(got, 'forwarded') : ['?'], [], 'Forwarded not passed on');
  });
});

t.test('allowlist runs after authentication: a bad key from a denied IP is 401, not 403', async (t) => {
  const env = await setup(t, ['10.0.0.0/8']);
  const r = await request(env.proxy.url, { path: '/v1/vaults', headers: [['Authorization', 'Bearer ck_test_allow:wrong']] });
  t.equal(r.status, 401);
  t.equal(r.json()['code'], 'UNAUTHORIZED');
  t.equal(env.upstream.requests.length, 0, 'upstream not called');
});

t.test('Expect: 100-continue from a denied IP: no 100 Continue, a 403', async (t) => {
  const env = await setup(t, ['10.0.0.0/8']);
  const text = await rawRequest(
    env.proxy.port,
    `POST /v1/transfers HTTP/1.1\r\nHost: 127.0.0.1:${env.proxy.port}\r\nAuthorization: ${bearer(key)}\r\n` +
      'Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 13\r\n\r\n',
    1500,
  );
  t.match(text, /^HTTP\/1\.1 403 /, 'the first thing received is the 403');
  t.notMatch(text, /100 Continue/i, 'never a 100 Continue');
  t.match(text, /\r\nconnection: close\r\n/i, 'Connection: close (body unread)');
  t.equal(env.upstream.requests.length, 0, 'upstream not called');
});

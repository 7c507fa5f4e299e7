// SPEC §5 authentication over real sockets: header count and syntax, scheme case, token split,
// credential lifecycle (status, grace, expiry), no other credential carriers, the one uniform 401,
// and `Expect: 100-continue` / unread bodies on rejection. Every case also checks what the
// recording upstream received (usually: nothing).
import t, { type Test } from 'tap';
import net from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import { startUpstream, type RecordingUpstream } from '../helpers/recording-upstream.js';
import { startProxy, type TestProxy } from '../helpers/start-proxy.js';
import { credentialsYaml, bearer, type KeySpec, type TenantSpec } from '../helpers/credentials.js';
import { request, rawRequest, type Reply } from '../helpers/http-client.js';

const HOUR = 3_600_000;
const iso = (offsetMs: number): string => new Date(Date.now() + offsetMs).toISOString();

interface Env {
  readonly proxy: TestProxy;
  readonly upstream: RecordingUpstream;
}

async function setup(t: Test, tenants: TenantSpec[], keys: KeySpec[], config?: Record<string, unknown>): Promise<Env> {
  const upstream = await startUpstream();
  const proxy = await startProxy({ upstreamUrl: upstream.url, credentialsYaml: credentialsYaml(tenants, keys), ...(config ? { config } : {}) });
  t.teardown(async () => {
    await proxy.close();
    await upstream.close();
  });
  return { proxy, upstream };
}

/** The one 401 of §5/§10, checked field by field. */
function assertUnauthorized(t: Test, r: Reply, what: string): void {
  t.equal(r.status, 401, `${what}: status 401`);
  t.equal(r.headers['www-authenticate'], 'Bearer', `${what}: WWW-Authenticate: Bearer`);
  t.match(r.headers['content-type'] ?? '', /^application\/json\b/, `${what}: JSON content type`);
  t.equal(r.headers['cache-control'], 'no-store', `${what}: Cache-Control no-store`);
  const rid = r.headers['x-request-id'];
  t.match(rid, /^req_\S+$/, `${what}: X-Request-Id`);
  const body = r.json();
  t.same(Object.keys(body).sort(), ['code', 'message', 'requestId'], `${what}: body keys`);
  t.equal(body['code'], 'UNAUTHORIZED', `${what}: code`);
  t.equal(body['message'], 'authentication required', `${what}: message`);
  t.equal(body['requestId'], rid, `${what}: requestId equals X-Request-Id`);
}

/** Headers minus the per-response ones, for comparing two rejections. */
function stableHeaders(h: IncomingHttpHeaders): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(h)) if (k !== 'date' && k !== 'x-request-id') out[k] = v;
  return out;
}

function bodyWithoutRequestId(r: Reply): string {
  const rid = String(r.headers['x-request-id'] ?? '');
  return rid ? r.text.split(rid).join('<rid>') : r.text;
}

const good: KeySpec = { keyId: 'ck_test_good', tenant: 'tnt_a', secret: 'sk_test_good_secret' };

t.test('missing Authorization header is 401 and the upstream is not called', async (t) => {
  const { proxy, upstream } = await setup(t, [{ id: 'tnt_a' }], [good]);
  const r = await request(proxy.url, { path: '/v1/vaults' });
  assertUnauthorized(t, r, 'missing');
  t.equal(upstream.requests.length, 0, 'upstream not called');
  // control: the same request with the key passes, so the 401 was about the header
  const ok = await request(proxy.url, { path: '/v1/vaults', headers: [['Authorization', bearer(good)]] });
  t.equal(ok.status, 200);
  t.equal(upstream.requests.length, 1);
});

t.test('no path is exempt from authentication', async (t) => {
  const { proxy, upstream } = await setup(t, [{ id: 'tnt_a' }], [good]);
  for (const path of ['/', '/healthz', '/readyz', '/metrics', '/favicon.ico', '/admin/credentials']) {
    const r = await request(proxy.url, { path });
    assertUnauthorized(t, r, `GET ${path}`);
  }
  const opt = await request(proxy.url, { method: 'OPTIONS', path: '/v1/vaults' });
  assertUnauthorized(t, opt, 'OPTIONS');
  t.equal(upstream.requests.length, 0, 'upstream not called');
});

t.test('two Authorization lines are 401, even when both are valid', async (t) => {
  const other: KeySpec = { keyId: 'ck_test_other', tenant: 'tnt_a', secret: 'sk_test_other_secret' };
  const { proxy, upstream } = await setup(t, [{ id: 'tnt_a' }], [good, other]);
  const cases: Array<[string, string, string]> = [
    ['same valid value twice', bearer(good), bearer(good)],
    ['two different valid keys', bearer(good), bearer(other)],
    ['valid then garbage', bearer(good), 'Bearer nope:nope'],
    ['garbage then valid', 'Bearer nope:nope', bearer(good)],
    ['valid then empty', bearer(good), ''],
  ];
  for (const [what, a, b] of cases) {
    const r = await request(proxy.url, { path: '/v1/vaults', headers: [['Authorization', a], ['authorization', b]] });
    assertUnauthorized(t, r, what);
  }
  t.equal(upstream.requests.length, 0, 'upstream never called');
});

t.test('the Bearer scheme is case-insensitive', async (t) => {
  const { proxy, upstream } = await setup(t, [{ id: 'tnt_a' }], [good]);
  for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
    const before = upstream.requests.length;
    const r = await request(proxy.url, { path: '/v1/vaults', headers: [['Authorization', `${scheme} ${good.keyId}:${good.secret}`]] });
    t.equal(r.status, 200, `${scheme} accepted`);
    t.equal(upstream.requests.length, before + 1, `${scheme}: upstream called once`);
    const got = upstream.requests[before];
    t.ok(got, `${scheme}: upstream request recorded`);
    if (got) {
      t.same(upstream.headerLines(got, 'x-credential-id'), [good.keyId], `${scheme}: X-Credential-Id`);
      t.same(upstream.headerLines(got, 'x-tenant-id'), ['tnt_a'], `${scheme}: X-Tenant-Id`);
      t.same(upstream.headerLines(got, 'authorization'), [], `${scheme}: Authorization not forwarded`);
    }
  }
});

t.test('other schemes and malformed tokens are 401', async (t) => {
  // a record whose hash is of the empty string: an empty secret must still be refused as malformed
  const emptyHash: KeySpec = { keyId: 'ck_test_emptyhash', tenant: 'tnt_a', secret: '' };
  const { proxy, upstream } = await setup(t, [{ id: 'tnt_a' }], [good, emptyHash]);
  const pair = `${good.keyId}:${good.secret}`;
  const cases: Array<[string, string]> = [
    ['Basic (base64)', `Basic ${Buffer.from(pair).toString('base64')}`],
    ['Basic (plain)', `Basic ${pair}`],
    ['Token scheme', `Token ${pair}`],
    ['Digest scheme', `Digest ${pair}`],
    ['no scheme', pair],
    ['scheme glued to token', `Bearer${pair}`],
    ['scheme only', 'Bearer'],
    ['scheme and space only', 'Bearer '],
    ['token without colon', `Bearer ${good.keyId}${good.secret}`],
    ['empty keyId', `Bearer :${good.secret}`],
    ['empty secret', `Bearer ${good.keyId}:`],
    ['colon only', 'Bearer :'],
    ['empty secret, stored hash of ""', 'Bearer ck_test_emptyhash:'],
    ['empty header value', ''],
  ];
  for (const [what, value] of cases) {
    const r = await request(proxy.url, { path: '/v1/vaults', headers: [['Authorization', value]] });
    assertUnauthorized(t, r, what);
  }
  t.equal(upstream.requests.length, 0, 'upstream never called');
});

t.test('the token is split at the first colon: a secret may contain colons', async (t) => {
  const colonKey: KeySpec = { keyId: 'ck_test_colon', tenant: 'tnt_a', secret: 'sk:with:colons:' };
  const { proxy, upstream } = await setup(t, [{ id: 'tnt_a' }], [colonKey]);
  const r = await request(proxy.url, { path: '/v1/vaults', headers: [['Authorization', bearer(colonKey)]] });
  t.equal(r.status, 200, 'secret with colons accepted');
  t.equal(upstream.requests.length, 1);
  const got = upstream.requests[0];
  t.same(got ? upstream.headerLines(got, 'x-credential-id') : [], ['ck_test_colon'], 'key id is the part before the first colon');
  // splitting anywhere else finds no key or the wrong secret
  const shifted = await request(proxy.url, { path: '/v1/vaults', headers: [['Authorization', 'Bearer ck_test_colon:sk:with:colons']] });
  assertUnauthorized(t, shifted, 'secret missing its trailing colon');
  t.equal(upstream.requests.length, 1, 'upstream not called for the wrong secret');
});

t.test('every rejection reason gives the same 401 (bodies minus requestId, headers minus date/x-request-id)', async (t) => {
  const keys: KeySpec[] = [
    good,
    { keyId: 'ck_test_prov', tenant: 'tnt_a', secret: 'sk_prov', status: 'provisioned' },
    { keyId: 'ck_test_revoked', tenant: 'tnt_a', secret: 'sk_revoked', status: 'revoked' },
    { keyId: 'ck_test_graceover', tenant: 'tnt_a', secret: 'sk_graceover', status: 'rotated', graceUntil: iso(-HOUR) },
    { keyId: 'ck_test_expired', tenant: 'tnt_a', secret: 'sk_expired', expiresAt: iso(-HOUR) },
  ];
  const { proxy, upstream } = await setup(t, [{ id: 'tnt_a' }], keys);
  const variants: Array<[string, Array<[string, string]>]> = [
    ['unknown key', [['Authorization', 'Bearer ck_test_nosuch:sk_test_good_secret']]],
    ['wrong secret', [['Authorization', `Bearer ${good.keyId}:sk_test_wrong_secret`]]],
    ['missing', []],
    ['malformed', [['Authorization', 'Bearer nocolon']]],
    ['duplicate', [['Authorization', bearer(good)], ['Authorization', bearer(good)]]],
    ['provisioned', [['Authorization', 'Bearer ck_test_prov:sk_prov']]],
    ['revoked', [['Authorization', 'Bearer ck_test_revoked:sk_revoked']]],
    ['grace over', [['Authorization', 'Bearer ck_test_graceover:sk_graceover']]],
    ['expired', [['Authorization', 'Bearer ck_test_expired:sk_expired']]],
  ];
  const replies: Array<[string, Reply]> = [];
  for (const [what, headers] of variants) {
    const r = await request(proxy.url, { path: '/v1/vaults', headers });
    assertUnauthorized(t, r, what);
    replies.push([what, r]);
  }
  const [, first] = replies[0] as [string, Reply];
  for (const [what, r] of replies.slice(1)) {
    t.equal(bodyWithoutRequestId(r), bodyWithoutRequestId(first), `${what}: body byte-identical to unknown key`);
    t.same(stableHeaders(r.headers), stableHeaders(first.headers), `${what}: same header set as unknown key`);
    t.not(r.headers['x-request-id'], first.headers['x-request-id'], `${what}: its own request id`);
  }
  t.equal(upstream.requests.length, 0, 'upstream never called');
});

t.test('lifecycle: only active, and rotated within grace, are accepted; expiresAt applies to every status', async (t) => {
  const keys: Array<KeySpec & { expect: number }> = [
    { keyId: 'ck_active', tenant: 'tnt_a', secret: 's_active', expect: 200 },
    { keyId: 'ck_prov', tenant: 'tnt_a', secret: 's_prov', status: 'provisioned', expect: 401 },
    { keyId: 'ck_revoked', tenant: 'tnt_a', secret: 's_revoked', status: 'revoked', expect: 401 },
    { keyId: 'ck_rot_future', tenant: 'tnt_a', secret: 's_rot_future', status: 'rotated', graceUntil: iso(HOUR), expect: 200 },
    { keyId: 'ck_rot_past', tenant: 'tnt_a', secret: 's_rot_past', status: 'rotated', graceUntil: iso(-60_000), expect: 401 },
    { keyId: 'ck_exp_past', tenant: 'tnt_a', secret: 's_exp_past', expiresAt: iso(-60_000), expect: 401 },
    { keyId: 'ck_exp_future', tenant: 'tnt_a', secret: 's_exp_future', expiresAt: iso(HOUR), expect: 200 },
    {
      keyId: 'ck_rot_in_grace_but_expired',
      tenant: 'tnt_a',
      secret: 's_rot_exp',
      status: 'rotated',
      graceUntil: iso(HOUR),
      expiresAt: iso(-60_000),
      expect: 401,
    },
    { keyId: 'ck_prov_not_expired', tenant: 'tnt_a', secret: 's_prov_ne', status: 'provisioned', expiresAt: iso(HOUR), expect: 401 },
  ];
  const { proxy, upstream } = await setup(
    t,
    [{ id: 'tnt_a' }],
    keys.map(({ expect: _e, ...k }) => k),
  );
  for (const k of keys) {
    const before = upstream.requests.length;
    const r = await request(proxy.url, { path: '/v1/vaults', headers: [['Authorization', bearer(k)]] });
    if (k.expect === 200) {
      t.equal(r.status, 200, `${k.keyId}: accepted`);
      t.equal(upstream.requests.length, before + 1, `${k.keyId}: forwarded once`);
      const got = upstream.requests[before];
      t.same(got ? upstream.headerLines(got, 'x-credential-id') : [], [k.keyId], `${k.keyId}: upstream saw this credential`);
    } else {
      assertUnauthorized(t, r, k.keyId);
      t.equal(upstream.requests.length, before, `${k.keyId}: upstream not called`);
    }
  }
});

t.test('credentials anywhere but Authorization are ignored', async (t) => {
  const { proxy, upstream } = await setup(t, [{ id: 'tnt_a' }], [good]);
  const pair = `${good.keyId}:${good.secret}`;
  const enc = encodeURIComponent(pair);
  const cases: Array<[string, string, Array<[string, string]>]> = [
    ['?api_key=', `/v1/vaults?api_key=${enc}`, []],
    ['?access_token=', `/v1/vaults?access_token=${enc}`, []],
    ['?key= and ?secret=', `/v1/vaults?key_id=${good.keyId}&secret=${good.secret}`, []],
    ['cookie api_key', '/v1/vaults', [['Cookie', `api_key=${enc}`]]],
    ['cookie access_token', '/v1/vaults', [['Cookie', `access_token=${enc}; session=${enc}`]]],
    ['cookie Authorization', '/v1/vaults', [['Cookie', `Authorization=Bearer%20${enc}`]]],
    ['X-API-Key', '/v1/vaults', [['X-API-Key', pair]]],
    ['X-API-Key bearer', '/v1/vaults', [['X-API-Key', `Bearer ${pair}`]]],
    ['Proxy-Authorization', '/v1/vaults', [['Proxy-Authorization', `Bearer ${pair}`]]],
    ['X-Authorization', '/v1/vaults', [['X-Authorization', `Bearer ${pair}`]]],
  ];
  for (const [what, path, headers] of cases) {
    const r = await request(proxy.url, { path, headers });
    assertUnauthorized(t, r, what);
  }
  t.equal(upstream.requests.length, 0, 'upstream never called');
});

t.test('a POST rejected by authentication closes the connection (its body is never read)', async (t) => {
  const { proxy, upstream } = await setup(t, [{ id: 'tnt_a' }], [good]);
  const r = await request(proxy.url, {
    method: 'POST',
    path: '/v1/transfers',
    headers: [['Authorization', 'Bearer ck_test_good:wrong'], ['Content-Type', 'application/json']],
    body: JSON.stringify({ amount: 1, pad: 'x'.repeat(64 * 1024) }),
  });
  assertUnauthorized(t, r, 'POST wrong secret');
  t.equal(r.headers['connection'], 'close', 'Connection: close');

  // Headers only, the announced body never sent: the 401 comes without waiting for the body,
  // and the connection is closed (not held open to drain a body).
  const started = Date.now();
  const text = await rawRequest(
    proxy.port,
    `POST /v1/transfers HTTP/1.1\r\nHost: 127.0.0.1:${proxy.port}\r\nAuthorization: Bearer ck_test_good:wrong\r\n` +
      'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n',
    3000,
  );
  const elapsed = Date.now() - started;
  t.match(text, /^HTTP\/1\.1 401 /, 'answered 401 before any body byte was sent');
  t.match(text, /\r\nconnection: close\r\n/i, 'Connection: close');
  t.ok(elapsed < 2500, `the proxy closed the connection itself (${elapsed} ms)`);

  // A request hidden in the unread body never reaches the upstream.
  const smuggled = `GET /v1/smuggled HTTP/1.1\r\nHost: 127.0.0.1:${proxy.port}\r\nAuthorization: ${bearer(good)}\r\n\r\n`;
  const text2 = await rawRequest(
    proxy.port,
    `POST /v1/transfers HTTP/1.1\r\nHost: 127.0.0.1:${proxy.port}\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`,
    1500,
  );
  t.match(text2, /^HTTP\/1\.1 401 /);
  t.equal(text2.split('HTTP/1.1 ').length - 1, 1, 'exactly one response on the connection');
  t.equal(upstream.requests.length, 0, 'upstream never called');
});

/** A socket conversation: write, then read until a predicate holds on everything received so far. */
interface Conversation {
  write(data: string): void;
  readUntil(done: (received: string) => boolean, timeoutMs: number): Promise<string>;
  close(): void;
}

function converse(port: number): Promise<Conversation> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    let ended = false;
    let waiter: (() => void) | undefined;
    socket.on('data', (c: Buffer) => {
      received += c.toString('latin1');
      waiter?.();
    });
    socket.on('close', () => {
      ended = true;
      waiter?.();
    });
    socket.on('error', () => {
      ended = true;
      waiter?.();
    });
    socket.once('connect', () =>
      resolve({
        write: (data) => socket.write(data),
        readUntil: (done, timeoutMs) =>
          new Promise((res) => {
            const finish = (): void => {
              clearTimeout(timer);
              waiter = undefined;
              res(received);
            };
            const timer = setTimeout(finish, timeoutMs);
            waiter = () => {
              if (ended || done(received)) finish();
            };
            waiter();
          }),
        close: () => socket.destroy(),
      }),
    );
    socket.once('error', reject);
  });
}

t.test('Expect: 100-continue with a bad key: no 100 Continue, a 401, upstream not called', async (t) => {
  const { proxy, upstream } = await setup(t, [{ id: 'tnt_a' }], [good]);
  for (const auth of ['Authorization: Bearer ck_test_good:wrong\r\n', 'Authorization: Bearer ck_nosuch:x\r\n', '']) {
    const text = await rawRequest(
      proxy.port,
      `POST /v1/transfers HTTP/1.1\r\nHost: 127.0.0.1:${proxy.port}\r\n${auth}Content-Type: application/json\r\n` +
        'Expect: 100-continue\r\nContent-Length: 13\r\n\r\n',
      1500,
    );
    const what = auth ? auth.trim() : 'no Authorization';
    t.match(text, /^HTTP\/1\.1 401 /, `${what}: the first thing received is the 401`);
    t.notMatch(text, /100 Continue/i, `${what}: never a 100 Continue`);
    t.match(text, /\r\nwww-authenticate: Bearer\r\n/i, `${what}: WWW-Authenticate`);
    t.match(text, /\r\nconnection: close\r\n/i, `${what}: Connection: close`);
  }
  t.equal(upstream.requests.length, 0, 'upstream never called');
});

t.test('Expect: 100-continue with a good key: 100 arrives, then the body reaches the upstream', async (t) => {
  const { proxy, upstream } = await setup(t, [{ id: 'tnt_a' }], [good]);
  const body = '{"amount":42}';
  const conv = await converse(proxy.port);
  t.teardown(() => conv.close());
  conv.write(
    `POST /v1/transfers HTTP/1.1\r\nHost: 127.0.0.1:${proxy.port}\r\nAuthorization: ${bearer(good)}\r\n` +
      `Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
  );
  const first = await conv.readUntil((s) => s.includes('\r\n\r\n'), 3000);
  t.match(first, /^HTTP\/1\.1 100 Continue\r\n\r\n/, '100 Continue before the body is sent');
  t.equal(upstream.requests.length, 0, 'nothing forwarded before the body');
  conv.write(body);
  const all = await conv.readUntil((s) => /\r\n\r\n[\s\S]*HTTP\/1\.1 200[\s\S]*\r\n\r\n\{"ok":true\}/.test(s), 3000);
  t.match(all, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /, 'then the upstream 200');
  t.equal(upstream.requests.length, 1, 'upstream called once');
  const got = upstream.requests[0];
  t.equal(got?.body.toString('utf8'), body, 'upstream received the body');
  t.same(got ? upstream.headerLines(got, 'expect') : ['?'], [], 'Expect not forwarded');
  t.same(got ? upstream.headerLines(got, 'x-tenant-id') : [], ['tnt_a']);
});

// Request body framing and smuggling (SPEC §7, §12), over raw sockets: chunked bodies re-framed
// intact, a chunked DELETE/OPTIONS whose body holds a second request reaches the upstream as ONE
// request, ambiguous framing (gzip+chunked, CL+TE, conflicting Content-Length) is refused before the
// upstream, an empty POST stays empty and a 2 MiB body streams through byte-for-byte.
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { proxyFixture } from '../helpers/proxy-fixture.js';
import { credentialsYaml, bearer } from '../helpers/credentials.js';
import { rawRequest, request } from '../helpers/http-client.js';
import { parseResponses, type RawResponse } from '../helpers/raw-response.js';

const key = { keyId: 'ck_test_framing', tenant: 'tnt_framing', secret: 'sk_test_framing_secret' };

const chunk = (data: Buffer | string): Buffer => {
  const b = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  return Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`, 'latin1'), b, Buffer.from('\r\n', 'latin1')]);
};
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');

const f = proxyFixture(t, { credentialsYaml: credentialsYaml([{ id: key.tenant }], [key]) });

function head(method: string, target: string, extra: readonly string[]): Buffer {
  const lines = [`${method} ${target} HTTP/1.1`, `Host: 127.0.0.1:${f.proxy.port}`, `Authorization: ${bearer(key)}`, ...extra, '', ''];
  return Buffer.from(lines.join('\r\n'), 'latin1');
}

async function sendRaw(bytes: Buffer, timeoutMs = 3000): Promise<RawResponse[]> {
  return parseResponses(await rawRequest(f.proxy.port, bytes, timeoutMs));
}

t.test('a chunked POST body arrives intact at the upstream', async (t) => {
  const parts = [Buffer.from('{"a":'), Buffer.from([0x00, 0x0d, 0x0a, 0xff]), Buffer.from('"0\r\n\r\n"'), randomBytes(5000), Buffer.from('}')];
  const expected = Buffer.concat(parts);
  const before = f.upstream.requests.length;
  const responses = await sendRaw(
    Buffer.concat([
      head('POST', '/v1/transfers', ['Transfer-Encoding: chunked', 'Content-Type: application/octet-stream', 'Connection: close']),
      ...parts.map(chunk),
      LAST_CHUNK,
    ]),
  );
  t.equal(responses.length, 1, 'one response');
  t.equal(responses[0]?.status, 200, 'client got 200');
  t.equal(f.upstream.requests.length, before + 1, 'upstream received one request');
  const got = f.upstream.requests[before];
  t.equal(got?.method, 'POST');
  t.equal(got?.url, '/v1/transfers');
  t.ok(got?.body.equals(expected), `body bytes equal (${got?.body.length} vs ${expected.length})`);
  t.same(f.upstream.headerLines(got!, 'x-tenant-id'), [key.tenant], 'still stamped');
});

t.test('Transfer-Encoding spelled Chunked is the same framing and arrives intact', async (t) => {
  const before = f.upstream.requests.length;
  const responses = await sendRaw(
    Buffer.concat([head('POST', '/v1/transfers', ['Transfer-Encoding: Chunked', 'Connection: close']), chunk('hello '), chunk('world'), LAST_CHUNK]),
  );
  t.equal(responses[0]?.status, 200);
  t.equal(f.upstream.requests.length, before + 1);
  t.equal(f.upstream.requests[before]?.body.toString('latin1'), 'hello world');
});

for (const method of ['DELETE', 'OPTIONS']) {
  t.test(`a chunked ${method} whose body holds a second request reaches the upstream as one request`, async (t) => {
    const smuggled = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
    const before = f.upstream.requests.length;
    const responses = await sendRaw(
      Buffer.concat([head(method, '/v1/vaults/v_1', ['Transfer-Encoding: chunked', 'Connection: close']), chunk(smuggled), LAST_CHUNK]),
    );
    t.equal(responses.length, 1, 'the client got exactly one response');
    t.equal(responses[0]?.status, 200, 'client got 200');
    // give a smuggled second request on the upstream connection time to be parsed
    await sleep(300);
    const seen = f.upstream.requests.slice(before);
    t.equal(seen.length, 1, 'the upstream received exactly one request');
    t.equal(seen[0]?.method, method);
    t.equal(seen[0]?.url, '/v1/vaults/v_1');
    t.equal(seen[0]?.body.toString('latin1'), smuggled, 'the smuggled text arrived as body bytes');
    t.notOk(
      seen.some((r) => r.url.includes('smuggled')),
      'no request to /smuggled',
    );
    // and the upstream connection is still usable and clean for the next request
    const next = await request(f.proxy.url, { path: '/v1/after', headers: [['Authorization', bearer(key)]] });
    t.equal(next.status, 200);
    await sleep(100);
    t.same(
      f.upstream.requests.slice(before).map((r) => r.url),
      ['/v1/vaults/v_1', '/v1/after'],
      'the next request is the only other one the upstream saw',
    );
  });
}

t.test('Transfer-Encoding: gzip, chunked is refused before the upstream', async (t) => {
  const before = f.upstream.requests.length;
  const responses = await sendRaw(
    Buffer.concat([head('POST', '/v1/transfers', ['Transfer-Encoding: gzip, chunked', 'Connection: close']), chunk('\x1f\x8b\x08\x00'), LAST_CHUNK]),
  );
  t.equal(responses[0]?.status, 400, 'client got 400');
  t.equal(f.upstream.requests.length, before, 'upstream not called');
});

const ambiguous: ReadonlyArray<readonly [string, readonly string[], Buffer]> = [
  [
    'Content-Length and Transfer-Encoding',
    ['Content-Length: 4', 'Transfer-Encoding: chunked'],
    Buffer.concat([chunk('GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'), LAST_CHUNK]),
  ],
  [
    'Transfer-Encoding and Content-Length (other order)',
    ['Transfer-Encoding: chunked', 'Content-Length: 60'],
    Buffer.concat([chunk('abc'), LAST_CHUNK]),
  ],
  ['two different Content-Length lines', ['Content-Length: 3', 'Content-Length: 40'], Buffer.from('abcGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1')],
  ['two Transfer-Encoding lines', ['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'], Buffer.concat([chunk('abc'), LAST_CHUNK])],
  ['Transfer-Encoding: chunked, gzip (chunked not last)', ['Transfer-Encoding: chunked, gzip'], Buffer.concat([chunk('abc'), LAST_CHUNK])],
  ['Transfer-Encoding: identity', ['Transfer-Encoding: identity', 'Content-Length: 3'], Buffer.from('abc', 'latin1')],
];

for (const [name, framing, body] of ambiguous) {
  t.test(`ambiguous framing (${name}) is refused, upstream not called`, async (t) => {
    const before = f.upstream.requests.length;
    const raw = await rawRequest(f.proxy.port, Buffer.concat([head('POST', '/v1/transfers', [...framing, 'Connection: close']), body]), 3000);
    const responses = parseResponses(raw);
    t.ok(responses.length >= 1, 'the client got a response');
    t.equal(responses[0]?.status, 400, 'client got 400');
    t.notOk(responses.some((r) => r.status === 200), 'never a 200');
    await sleep(100);
    t.equal(f.upstream.requests.length, before, 'upstream not called');
  });
}

t.test('a POST without a body reaches the upstream with an empty body', async (t) => {
  const before = f.upstream.requests.length;
  const a = await sendRaw(head('POST', '/v1/ping', ['Content-Length: 0', 'Connection: close']));
  t.equal(a[0]?.status, 200);
  const b = await sendRaw(head('POST', '/v1/ping', ['Connection: close']));
  t.equal(b[0]?.status, 200);
  t.equal(f.upstream.requests.length, before + 2, 'both reached the upstream');
  for (const got of f.upstream.requests.slice(before)) {
    t.equal(got.method, 'POST');
    t.equal(got.body.length, 0, 'empty body');
  }
});

t.test('a 2 MiB body streams through intact (no idempotency key)', async (t) => {
  const body = randomBytes(2 * 1024 * 1024);
  const digest = createHash('sha256').update(body).digest('hex');
  const before = f.upstream.requests.length;
  const r = await request(f.proxy.url, {
    method: 'POST',
    path: '/v1/blobs',
    headers: [
      ['Authorization', bearer(key)],
      ['Content-Type', 'application/octet-stream'],
      ['Content-Length', String(body.length)],
    ],
    body,
    timeoutMs: 15_000,
  });
  t.equal(r.status, 200, 'client got 200');
  t.equal(f.upstream.requests.length, before + 1);
  const got = f.upstream.requests[before];
  t.equal(got?.body.length, body.length, 'same length');
  t.equal(createHash('sha256').update(got?.body ?? Buffer.alloc(0)).digest('hex'), digest, 'same bytes');
});

t.test('a 2 MiB chunked body streams through intact', async (t) => {
  const body = randomBytes(2 * 1024 * 1024);
  const before = f.upstream.requests.length;
  const pieces: Buffer[] = [];
  for (let i = 0; i < body.length; i += 65_536) pieces.push(chunk(body.subarray(i, i + 65_536)));
  const responses = await sendRaw(
    Buffer.concat([head('PUT', '/v1/blobs/b1', ['Transfer-Encoding: chunked', 'Connection: close']), ...pieces, LAST_CHUNK]),
    10_000,
  );
  t.equal(responses[0]?.status, 200);
  t.equal(f.upstream.requests.length, before + 1);
  t.ok(f.upstream.requests[before]?.body.equals(body), 'same bytes');
});

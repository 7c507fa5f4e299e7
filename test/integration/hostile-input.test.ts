// Issue 13 regressions, over raw sockets (SPEC §6, §7 rev 2): a header list Node could have cut is
// refused with 431 before any check (smuggling a second request past the 1000-line cut, an allowlist
// bypass behind a trusted balancer, duplicate Authorization / Idempotency-Key lines past the cut),
// servlet `..;` dot segments get 400, and method/URL override and client-IP headers never reach the
// f.upstream. Each test asserts what the client got AND every byte the upstream received.
import t from 'tap';
import { proxyFixture } from '../helpers/proxy-fixture.js';
import { credentialsYaml, bearer } from '../helpers/credentials.js';
import { rawRequest } from '../helpers/http-client.js';
import { headerOf, jsonOf, parseResponses, type RawResponse } from '../helpers/raw-response.js';

const reader = {
  keyId: 'ck_test_reader',
  tenant: 'tnt_hostile',
  secret: 'sk_test_reader_secret',
  permissions: [{ methods: ['GET'], paths: ['/v1/reports/**', '/v1/vaults/*'] }],
};
const other = { keyId: 'ck_test_other', tenant: 'tnt_victim', secret: 'sk_test_other_secret' };
const SMUGGLED = 'DELETE /v1/vaults/v1 HTTP/1.1\r\nHost: x\r\nX-Tenant-Id: tnt_victim\r\nContent-Length: 0\r\n\r\n';

const f = proxyFixture(t, {
  credentialsYaml: credentialsYaml([{ id: reader.tenant, ipAllowList: ['203.0.113.7/32'] }, { id: other.tenant }], [reader, other]),
  config: { trustedProxies: ['127.0.0.1/32'] },
});

const filler = (n: number): string[] => Array.from({ length: n }, (_, i) => `a${i}:`);

function head(method: string, target: string, lines: readonly string[]): string {
  return [`${method} ${target} HTTP/1.1`, `Host: 127.0.0.1:${f.proxy.port}`, ...lines, '', ''].join('\r\n');
}

async function send(bytes: string, timeoutMs = 1500): Promise<RawResponse[]> {
  return parseResponses(await rawRequest(f.proxy.port, bytes, timeoutMs));
}

/** What the upstream got during `run`: parsed requests and the raw bytes. */
async function observe(run: () => Promise<void>): Promise<{ count: number; raw: string }> {
  const requests = f.upstream.requests.length;
  const bytes = f.upstream.rawText().length;
  await run();
  // a smuggled request would arrive right behind the first: give it time to be parsed
  await new Promise((r) => setTimeout(r, 100));
  return { count: f.upstream.requests.length - requests, raw: f.upstream.rawText().slice(bytes) };
}

const XFF_ALLOWED = 'X-Forwarded-For: 203.0.113.7';

for (const method of ['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE']) {
  for (const framing of [`Content-Length: ${SMUGGLED.length}`, 'Transfer-Encoding: chunked']) {
    t.test(`${method} with ${framing.split(':')[0]} past 1000 filler lines → 431, the upstream gets nothing`, async (t) => {
      const body = framing.startsWith('Content') ? SMUGGLED : `${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`;
      let responses: RawResponse[] = [];
      const seen = await observe(async () => {
        responses = await send(head(method, '/v1/reports/daily', [`Authorization: ${bearer(reader)}`, XFF_ALLOWED, ...filler(1000), framing]) + body);
      });
      t.equal(responses.length, 1, 'one response, the connection closed');
      t.equal(responses[0]?.status, 431, '431');
      if (method !== 'HEAD') t.equal(jsonOf(responses[0]!).code, 'BAD_REQUEST', '§10 body');
      t.same(headerOf(responses[0]!, 'connection'), ['close'], 'Connection: close');
      t.equal(seen.count, 0, 'upstream parsed no request');
      t.equal(seen.raw, '', 'upstream received no byte');
    });
  }
}

t.test('the header-count bound is exact: 100 lines pass, 101 get 431', async (t) => {
  // Host, Authorization and X-Forwarded-For are three of the lines
  for (const [fill, expected] of [[97, 200], [98, 431]] as const) {
    let responses: RawResponse[] = [];
    const seen = await observe(async () => {
      responses = await send(head('GET', '/v1/reports/daily', [`Authorization: ${bearer(reader)}`, XFF_ALLOWED, ...filler(fill), 'Connection: close'].slice(0, fill + 2)));
    });
    t.equal(responses[0]?.status, expected, `${fill + 3} lines → ${expected}`);
    t.equal(seen.count, expected === 200 ? 1 : 0, 'upstream requests');
  }
});

t.test('a pipelined GET carrying a smuggled request reaches the upstream as exactly one request', async (t) => {
  // Within the bound, the framing is seen and kept: the body stays a body, never a second request.
  let responses: RawResponse[] = [];
  const seen = await observe(async () => {
    responses = await send(head('GET', '/v1/reports/daily', [`Authorization: ${bearer(reader)}`, XFF_ALLOWED, `Content-Length: ${SMUGGLED.length}`]) + SMUGGLED);
  });
  t.equal(responses[0]?.status, 200, 'first answered');
  t.equal(seen.count, 1, 'one upstream request');
  const got = f.upstream.requests.at(-1);
  t.equal(got?.method, 'GET');
  t.same(f.upstream.headerLines(got!, 'x-request-id'), headerOf(responses[0]!, 'x-request-id'), "the proxy's X-Request-Id");
  t.same(f.upstream.headerLines(got!, 'x-tenant-id'), [reader.tenant], 'stamped');
  t.equal(got?.body.toString('latin1'), SMUGGLED, 'the bytes arrived as the body, framed by Content-Length');
  t.match(seen.raw, /\r\ncontent-length: 86\r\n/i, 'with the proxy-set framing');
});

t.test('allowlist: a client claim before 1000 filler lines cannot hide the balancer’s X-Forwarded-For', async (t) => {
  const balancer = 'X-Forwarded-For: 198.51.100.9';
  let cut: RawResponse[] = [];
  const seen = await observe(async () => {
    cut = await send(head('GET', '/v1/reports/daily', [`Authorization: ${bearer(reader)}`, XFF_ALLOWED, ...filler(1000), balancer, 'Connection: close']));
  });
  t.equal(cut[0]?.status, 431, 'cut list → 431');
  t.equal(seen.count, 0, 'upstream not called');
  const short = await send(head('GET', '/v1/reports/daily', [`Authorization: ${bearer(reader)}`, XFF_ALLOWED, balancer, 'Connection: close']));
  t.equal(short[0]?.status, 403, 'the balancer’s entry is the client: denied');
});

t.test('duplicate Authorization and Idempotency-Key lines past the cut → 431, upstream not called', async (t) => {
  for (const [at, extra] of [
    [1030, `Authorization: ${bearer(other)}`],
    [1030, 'Host: evil.example'],
    [1005, 'Idempotency-Key: hidden'],
  ] as const) {
    let responses: RawResponse[] = [];
    const seen = await observe(async () => {
      responses = await send(head('POST', '/v1/reports/daily', [`Authorization: ${bearer(other)}`, 'Idempotency-Key: k1', ...filler(at - 4), extra, 'Content-Length: 2', 'Connection: close']) + '{}');
    });
    t.equal(responses[0]?.status, 431, `${extra.split(':')[0]} on line ${at}: 431`);
    t.equal(seen.count, 0, 'upstream not called');
  }
});

t.test('servlet `;` dot segments get 400 and never reach the upstream, even for a permitted prefix', async (t) => {
  for (const target of ['/v1/reports/..;/withdrawals', '/v1/vaults/..;', '/v1/reports/%2e%2e;/x', '/v1/reports/..%3b/x', '/v1/reports/.;/daily', '/v1/reports/;/daily']) {
    let responses: RawResponse[] = [];
    const seen = await observe(async () => {
      responses = await send(head('GET', target, [`Authorization: ${bearer(reader)}`, XFF_ALLOWED, 'Connection: close']));
    });
    t.equal(responses[0]?.status, 400, `${target}: 400`);
    t.equal(jsonOf(responses[0]!).code, 'BAD_REQUEST', `${target}: BAD_REQUEST`);
    t.equal(seen.count, 0, `${target}: upstream not called`);
  }
});

const OVERRIDES = [
  'X-HTTP-Method-Override: DELETE',
  'X-HTTP-Method: DELETE',
  'X-Method-Override: DELETE',
  'X-Original-Method: DELETE',
  'X-Original-URL: /v1/admin',
  'X-Rewrite-URL: /v1/admin',
  'True-Client-IP: 203.0.113.7',
  'CF-Connecting-IP: 203.0.113.7',
  'X-Client-IP: 203.0.113.7',
  'X-Cluster-Client-IP: 203.0.113.7',
  'Fastly-Client-IP: 203.0.113.7',
  'X-Real-IP: 203.0.113.7',
  'Forwarded: for=203.0.113.7',
  'X-Forwarded-Host: evil.example',
  'X-Forwarded-Port: 1',
  'X-Forwarded-Prefix: /admin',
  'X-Forwarded-Server: evil.example',
];

t.test('method/URL overrides and client-IP claims are removed; the rest of the request is forwarded', async (t) => {
  let responses: RawResponse[] = [];
  const seen = await observe(async () => {
    responses = await send(head('GET', '/v1/reports/daily', [`Authorization: ${bearer(reader)}`, XFF_ALLOWED, ...OVERRIDES, 'X-Custom: kept', 'Connection: close']));
  });
  t.equal(responses[0]?.status, 200, 'forwarded');
  t.equal(seen.count, 1, 'one upstream request');
  const got = f.upstream.requests.at(-1)!;
  for (const line of OVERRIDES) {
    const name = line.slice(0, line.indexOf(':'));
    t.same(f.upstream.headerLines(got, name), [], `${name} removed`);
  }
  t.same(f.upstream.headerLines(got, 'x-custom'), ['kept'], 'other headers pass');
  t.notMatch(seen.raw, /override|original|rewrite|client-ip|x-real-ip|forwarded:|x-forwarded-(host|port|prefix|server)/i, 'none in the raw bytes');
});

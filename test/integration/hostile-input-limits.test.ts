// Issue 13 regressions, over raw sockets (SPEC §9, §12 rev 2): a keyed POST declaring more than
// maxRequestBytes gets 413 without ever being told `100 Continue`; a configured headersTimeout closes a
// stalled connection within a second of its value (not after Node's 30 s check interval); requests
// Node's parser refuses are answered, logged with the peer and counted as outcome `parser_error`.
import net from 'node:net';
import t from 'tap';
import { proxyFixture } from '../helpers/proxy-fixture.js';
import { startProxy } from '../helpers/start-proxy.js';
import { credentialsYaml, bearer } from '../helpers/credentials.js';
import { rawRequest } from '../helpers/http-client.js';
import { parseResponses } from '../helpers/raw-response.js';

const key = { keyId: 'ck_test_limits', tenant: 'tnt_limits', secret: 'sk_test_limits_secret' };

const f = proxyFixture(t, {
  credentialsYaml: credentialsYaml([{ id: key.tenant }], [key]),
  config: { server: { headersTimeout: '1s' }, idempotency: { maxRequestBytes: '1KiB' } },
});

/** What the server sends on a fresh connection after `bytes`, until `until` matches or it closes (bounded). */
function exchange(bytes: string, until: RegExp, timeoutMs: number): Promise<{ text: string; closed: boolean; ms: number }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = net.connect(f.proxy.port, '127.0.0.1');
    let text = '';
    const done = (closed: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closed, ms: performance.now() - started });
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (until.test(text)) done(false);
    });
    socket.on('close', () => done(true));
    socket.on('error', () => done(true));
    socket.write(bytes);
  });
}

t.test('a keyed POST declaring more than maxRequestBytes gets 413 before any 100 Continue', async (t) => {
  const before = f.upstream.requests.length;
  const head = [
    'POST /v1/withdrawals HTTP/1.1',
    'Host: 127.0.0.1',
    `Authorization: ${bearer(key)}`,
    'Idempotency-Key: big-1',
    'Content-Length: 5000',
    'Expect: 100-continue',
    '',
    '',
  ].join('\r\n');
  // The body is never sent: a client waits for 100 before uploading.
  const r = await exchange(head, /\r\n\r\n[\s\S]*\}/, 3000);
  t.match(r.text, /^HTTP\/1\.1 413 /, 'the first thing the client hears is 413');
  t.notMatch(r.text, /100 Continue/, 'never told to upload');
  t.match(r.text, /"code":"PAYLOAD_TOO_LARGE"/, '§10 body');
  t.equal(f.upstream.requests.length, before, 'upstream not called');
});

t.test('within the limit, 100 Continue is sent and the body forwarded', async (t) => {
  const before = f.upstream.requests.length;
  const head = ['POST /v1/withdrawals HTTP/1.1', 'Host: 127.0.0.1', `Authorization: ${bearer(key)}`, 'Idempotency-Key: small-1', 'Content-Length: 2', 'Expect: 100-continue', '', ''].join('\r\n');
  const r = await exchange(head, /100 Continue\r\n\r\n/, 3000);
  t.match(r.text, /^HTTP\/1\.1 100 Continue/, '100 first');
  const answered = parseResponses(await rawRequest(f.proxy.port, head.replace('small-1', 'small-2').replace('Expect: 100-continue\r\n', '') + '{}'));
  t.equal(answered[0]?.status, 200, 'the keyed POST itself goes through');
  t.equal(f.upstream.requests.length, before + 1, 'forwarded once');
});

t.test('headersTimeout 1s closes a connection stalled in its headers within about a second', async (t) => {
  const r = await exchange('GET /v1/vaults HTTP/1.1\r\nHost: 127.0.0.1\r\n', /\r\n\r\n/, 4000);
  t.ok(r.ms >= 900, `not before the timeout (${Math.round(r.ms)} ms)`);
  t.ok(r.ms < 2600, `within a second or so of it, not Node's 30 s check (${Math.round(r.ms)} ms)`);
  t.match(r.text, /^HTTP\/1\.1 408 /, 'answered 408');
});

const REFUSED: ReadonlyArray<readonly [string, string]> = [
  ['bare LF line endings', 'GET /v1/vaults HTTP/1.1\nHost: 127.0.0.1\n\n'],
  ['Content-Length with Transfer-Encoding', 'POST /v1/vaults HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['two different Content-Lengths', 'POST /v1/vaults HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd'],
  ['a header block over 16 KiB', `GET /v1/vaults HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`],
];

for (const [name, bytes] of REFUSED) {
  t.test(`parser refusal is answered, logged with the peer and counted: ${name}`, async (t) => {
    const before = f.upstream.requests.length;
    const logged = f.proxy.logs.length;
    const [r] = parseResponses(await rawRequest(f.proxy.port, bytes));
    t.ok(r && (r.status === 400 || r.status === 431), `answered ${r?.status}`);
    t.equal(f.upstream.requests.length, before, 'upstream not called');
    const lines = f.proxy.logs.slice(logged).map((l) => JSON.parse(l) as Record<string, unknown>);
    const line = lines.find((l) => l['outcome'] === 'parser_error');
    t.ok(line, 'an access line with outcome parser_error');
    t.match(String(line?.['reason']), /^HPE_[A-Z_]+$/, "Node's error code as the reason");
    t.equal(line?.['clientIp'], '127.0.0.1', 'the peer address');
    t.equal(line?.['status'], r?.status, 'the status answered');
    const metrics = await (await fetch(`${f.proxy.adminUrl}/metrics`)).text();
    t.match(metrics, /custody_proxy_requests_total\{outcome="parser_error",status_class="4xx"\} [1-9]/, 'counted as a request outcome');
    t.match(metrics, new RegExp(`custody_proxy_parser_errors_total\\{reason="${String(line?.['reason'])}"\\} [1-9]`), 'counted by reason');
  });
}

t.test("memory store: one tenant's flood never evicts another tenant's records (its retry is replayed)", async (t) => {
  const victim = { keyId: 'ck_test_victim', tenant: 'tnt_victim', secret: 'sk_test_victim_secret' };
  const flooder = { keyId: 'ck_test_flood', tenant: 'tnt_flood', secret: 'sk_test_flood_secret' };
  const own = await startProxy({
    upstreamUrl: f.upstream.url,
    credentialsYaml: credentialsYaml([{ id: victim.tenant }, { id: flooder.tenant }], [victim, flooder]),
    config: { idempotency: { memory: { maxEntries: 20, maxBytes: '1MiB', minTenantShare: 5 } } },
  });
  t.teardown(() => own.close());
  const post = (k: typeof victim, idem: string): Promise<string> =>
    rawRequest(own.port, `POST /v1/withdrawals HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${bearer(k)}\r\nIdempotency-Key: ${idem}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`);
  const executed = (idem: string): number => f.upstream.requests.filter((r) => r.headers['idempotency-key'] === idem).length;
  t.equal(parseResponses(await post(victim, 'victim-1'))[0]?.status, 200, 'victim executes once');
  for (let i = 0; i < 60; i++) await post(flooder, `flood-${i}`);
  const [retry] = parseResponses(await post(victim, 'victim-1'));
  t.equal(retry?.status, 200, 'the retry gets the stored answer');
  t.same(retry?.lines.filter(([k]) => k.toLowerCase() === 'idempotent-replayed').map(([, v]) => v), ['true'], 'as a replay');
  t.equal(executed('victim-1'), 1, 'the upstream executed the victim’s request once');
  const [oldest] = parseResponses(await post(flooder, 'flood-0'));
  t.equal(oldest?.status, 200, 'the flooder’s own oldest record was the one evicted');
  t.equal(executed('flood-0'), 2, '(and so it executed again)');
});

t.test('a client that closes mid-request left: no parser_error line (HPE_INVALID_EOF_STATE is not a refusal)', async (t) => {
  const logged = f.proxy.logs.length;
  const r = await exchange(`POST /v1/vaults HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${bearer(key)}\r\nContent-Length: 50\r\n\r\nonly part`, /^$/, 200);
  t.notOk(r.closed, 'the proxy waited for the rest');
  await new Promise((resolve) => setTimeout(resolve, 200));
  const lines = f.proxy.logs.slice(logged).map((l) => JSON.parse(l) as Record<string, unknown>);
  t.same(lines.filter((l) => l['outcome'] === 'parser_error'), [], 'not logged as a refusal');
});

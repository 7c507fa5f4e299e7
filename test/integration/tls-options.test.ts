// SPEC §3 rev 2 TLS options, with the proxy in this process (startApp) and certificates made here with
// openssl: `tls.minVersion: TLSv1.3` refuses a TLS 1.2 client (counted as a protocol handshake failure,
// not a parser error) and serves a TLS 1.3 one; `upstream.caFile` lets the proxy forward to an https://
// upstream whose certificate the test CA signed, and without it the same upstream is refused (502
// UPSTREAM_UNAVAILABLE: nothing was sent); a bad pair at start stops the start with the problem.
import t, { type Test } from 'tap';
import https from 'node:https';
import tls from 'node:tls';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { startProxy, type TestProxy } from '../helpers/start-proxy.js';
import { startUpstream } from '../helpers/recording-upstream.js';
import { credentialsYaml, bearer } from '../helpers/credentials.js';
import { httpsRequest } from '../helpers/https-client.js';
import { request } from '../helpers/http-client.js';
import { makeCa } from '../helpers/test-certificates.js';
import { sampleValue, scrape } from '../helpers/metrics-text.js';
import { ProblemsError } from '../../src/config/problems.js';

const key = { keyId: 'ck_test_opt', tenant: 'tnt_opt', secret: 'sk_test_opt_secret' };
const CREDS = credentialsYaml([{ id: 'tnt_opt' }], [key]);
const AUTH = { authorization: bearer(key) };
const ca = makeCa();
t.teardown(() => ca.remove());
const leaf = ca.issue('leaf', '2b01');
const other = ca.issue('other', '2b02');

async function proxyWith(t: Test, upstreamUrl: string, config: Record<string, unknown>): Promise<TestProxy> {
  const proxy = await startProxy({ upstreamUrl, credentialsYaml: CREDS, config });
  t.teardown(() => proxy.close());
  return proxy;
}

/** The negotiated protocol, or the client's error code. */
function handshake(port: number, maxVersion: tls.SecureVersion): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: ca.caPem, maxVersion }, () => {
      resolve(socket.getProtocol() ?? 'none');
      socket.end();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

t.test('minVersion TLSv1.3 refuses a TLS 1.2 client and serves a TLS 1.3 one', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const proxy = await proxyWith(t, upstream.url, { tls: { certFile: leaf.certFile, keyFile: leaf.keyFile, minVersion: 'TLSv1.3' } });
  t.equal(await handshake(proxy.port, 'TLSv1.2'), 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', 'TLS 1.2 refused');
  t.equal(await handshake(proxy.port, 'TLSv1.3'), 'TLSv1.3');
  const metrics = await scrape(proxy.adminUrl);
  t.equal(sampleValue(metrics, 'custody_proxy_tls_handshake_failures_total', '{reason="protocol"}'), 1, 'counted as a protocol failure');
  t.equal(sampleValue(metrics, 'custody_proxy_parser_errors_total', '{reason="HPE_INVALID_METHOD"}'), 0, 'not as a parser error');
  t.match(proxy.logText(), /"reason":"protocol","code":"ERR_SSL_UNSUPPORTED_PROTOCOL","peer":"127.0.0.1","msg":"TLS handshake failed"/);
});

t.test('the default minVersion serves TLS 1.2', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const proxy = await proxyWith(t, upstream.url, { tls: { certFile: leaf.certFile, keyFile: leaf.keyFile } });
  t.equal(await handshake(proxy.port, 'TLSv1.2'), 'TLSv1.2');
  const answer = await httpsRequest({ port: proxy.port, ca: ca.caPem, headers: AUTH });
  t.equal(answer.status, 200);
  t.equal(upstream.requests[0]?.headers['x-forwarded-proto'], 'https');
});

/** Raw bytes over a TLS connection; resolves with everything the proxy answered before closing. */
function rawTls(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    let answer = '';
    const socket = tls.connect({ host: '127.0.0.1', port, ca: ca.caPem }, () => socket.write(bytes));
    socket.setEncoding('utf8').on('data', (c: string) => (answer += c));
    socket.on('close', () => resolve(answer));
    socket.on('error', () => undefined);
    socket.setTimeout(5000, () => socket.destroy());
  });
}

t.test('over TLS the listener keeps its limits: too many header lines get 431, a malformed request 400 and a parser_error count', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const proxy = await proxyWith(t, upstream.url, { tls: { certFile: leaf.certFile, keyFile: leaf.keyFile }, server: { maxHeaderCount: 10 } });
  const many = Array.from({ length: 11 }, (_, i) => `X-N${i}: ${i}\r\n`).join('');
  const tooMany = await rawTls(proxy.port, `GET /v1/things HTTP/1.1\r\nHost: p\r\nAuthorization: ${AUTH.authorization}\r\n${many}Connection: close\r\n\r\n`);
  t.match(tooMany, /^HTTP\/1\.1 431 /, 'more header lines than maxHeaderCount: 431');
  const malformed = await rawTls(proxy.port, 'GET /v1/things HTTP/1.1\r\nHost: p\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
  t.match(malformed, /^HTTP\/1\.1 400 /, 'malformed framing: 400');
  const metrics = await scrape(proxy.adminUrl);
  // By its reason: Node 24's parser refuses the header lines past maxHeadersCount itself (HPE_HEADER_OVERFLOW,
  // also a 431 and also counted), where Node 20 cuts the list and the handler answers.
  t.equal(sampleValue(metrics, 'custody_proxy_parser_errors_total', '{reason="HPE_INVALID_TRANSFER_ENCODING"}'), 1, 'the malformed request is counted as a parser error');
  t.equal(upstream.requests.length, 0, 'nothing reached the upstream');
});

t.test('a key that does not match its certificate stops the start, naming both files', async (t) => {
  const start = startProxy({ upstreamUrl: 'http://127.0.0.1:9', credentialsYaml: CREDS, config: { tls: { certFile: leaf.certFile, keyFile: other.keyFile } } });
  const err = await start.then(
    async (p) => {
      await p.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  t.ok(err instanceof ProblemsError, 'a config problem');
  t.match((err as ProblemsError).problems, [`tls.keyFile: the key in ${JSON.stringify(other.keyFile)} does not match the certificate in ${JSON.stringify(leaf.certFile)}`]);
});

/** An https upstream on 127.0.0.1 serving a certificate the test CA signed; records what it receives. */
async function httpsUpstream(t: Test): Promise<{ url: string; received: Array<Record<string, string | string[] | undefined>> }> {
  const received: Array<Record<string, string | string[] | undefined>> = [];
  const server = https.createServer({ cert: readFileSync(leaf.certFile), key: readFileSync(leaf.keyFile) }, (req, res) => {
    received.push(req.headers);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"secure":true}');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

t.test('upstream.caFile: an https upstream signed by a private CA is trusted; without it, 502', async (t) => {
  const upstream = await httpsUpstream(t);
  const trusting = await proxyWith(t, upstream.url, { upstream: { url: upstream.url, timeout: '5s', connectTimeout: '2s', caFile: ca.caFile } });
  const ok = await request(trusting.url, { path: '/v1/vaults', headers: [['Authorization', AUTH.authorization]] });
  t.equal(ok.status, 200, ok.text);
  t.equal(ok.text, '{"secure":true}');
  t.equal(upstream.received.length, 1, 'forwarded');
  t.equal(upstream.received[0]?.['x-tenant-id'], 'tnt_opt');
  t.equal(upstream.received[0]?.['x-forwarded-proto'], 'http', 'the client came over plain HTTP');

  const untrusting = await proxyWith(t, upstream.url, { upstream: { url: upstream.url, timeout: '5s', connectTimeout: '2s' } });
  const refused = await request(untrusting.url, { path: '/v1/vaults', headers: [['Authorization', AUTH.authorization]] });
  t.equal(refused.status, 502);
  t.match(JSON.parse(refused.text), { code: 'UPSTREAM_UNAVAILABLE' }, 'nothing was sent: safe to retry');
  t.equal(upstream.received.length, 1, 'the upstream received nothing more');
});

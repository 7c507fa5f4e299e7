// SPEC §3 / §12 rev 2 TLS on the client listener, with the real process (`custody-proxy serve`) and
// certificates made here with openssl: a client trusting the test CA gets 200 and the upstream sees
// X-Forwarded-Proto: https and X-Tenant-Id; when cert-manager renews in place (files rewritten, or
// kubelet swapping the `..data` symlink of a mounted Secret) a NEW connection is served the new
// certificate while a kept-alive connection opened before keeps the old one and keeps working; a bad
// pair (a key from another certificate) is refused and the certificate in force stays; the TLS
// metrics pass promtool; SIGTERM, with connections open (one still in its handshake), exits 0; SIGHUP
// re-reads a pair changed where no watch or poll sees it.
import t, { type Test } from 'tap';
import https from 'node:https';
import net from 'node:net';
import { copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startUpstream, type RecordingUpstream } from '../helpers/recording-upstream.js';
import { writeConfigDir } from '../helpers/start-proxy.js';
import { spawnProxy, type SpawnedProxy } from '../helpers/spawn-proxy.js';
import { credentialsYaml, bearer } from '../helpers/credentials.js';
import { httpsRequest, type HttpsAnswer } from '../helpers/https-client.js';
import { makeCa, type Leaf } from '../helpers/test-certificates.js';
import { promtoolCheck, sampleValue, scrape } from '../helpers/metrics-text.js';
import { waitFor } from '../helpers/waits.js';

const key = { keyId: 'ck_test_tls', tenant: 'tnt_tls', secret: 'sk_test_tls_secret' };
const CREDS = credentialsYaml([{ id: 'tnt_tls' }], [key]);
const AUTH = { authorization: bearer(key) };
const ca = makeCa();
t.teardown(() => ca.remove());
const first = ca.issue('first', '0f01');
const second = ca.issue('second', '0f02');
const third = ca.issue('third', '0f03');

/** Copies a leaf's pair into DIR as tls.crt / tls.key, the names a kubernetes.io/tls Secret has. */
function install(leaf: Leaf, dir: string): void {
  copyFileSync(leaf.certFile, path.join(dir, 'tls.crt'));
  copyFileSync(leaf.keyFile, path.join(dir, 'tls.key'));
}

/** The real proxy serving TLS with `tls/tls.crt` and `tls/tls.key` relative to its config folder. */
async function tlsProxy(t: Test, upstream: RecordingUpstream, lay: (tlsDir: string) => void): Promise<SpawnedProxy> {
  const options = { upstreamUrl: upstream.url, credentialsYaml: CREDS, config: { tls: { certFile: 'tls/tls.crt', keyFile: 'tls/tls.key' }, drainDelay: '0s', shutdownTimeout: '3s' } };
  const dir = writeConfigDir(options);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, 'tls'));
  lay(path.join(dir, 'tls'));
  return spawnProxy(t, { ...options, dir });
}

/** A new connection's answer, once it is served the certificate with this serial (bounded wait). */
async function newConnectionServed(proxy: SpawnedProxy, serial: string): Promise<HttpsAnswer> {
  let last: HttpsAnswer | undefined;
  await waitFor(async () => (last = await httpsRequest({ port: proxy.port, ca: ca.caPem, headers: AUTH })).serial === serial, 15_000, `a new connection served serial ${serial}`, 100);
  if (!last) throw new Error('no answer');
  return last;
}

const REFUSED = 'TLS certificate reload refused; keeping the certificate in force';
const logged = (proxy: SpawnedProxy, msg: string): Array<Record<string, unknown>> => proxy.logLines().filter((l) => l['msg'] === msg);

t.test('handshake, X-Forwarded-Proto https, renewal in place, a bad pair refused, metrics, SIGTERM exit 0', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const proxy = await tlsProxy(t, upstream, (dir) => install(first, dir));

  const plain = await httpsRequest({ port: proxy.port, headers: AUTH });
  t.equal(plain.error, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'a client that does not trust the test CA refuses the certificate');
  const kept = new https.Agent({ keepAlive: true, maxSockets: 1, ca: ca.caPem });
  t.teardown(() => kept.destroy());
  const before = await httpsRequest({ port: proxy.port, agent: kept, headers: AUTH });
  t.equal(before.status, 200, before.body);
  t.equal(before.serial, first.serial, 'served the first certificate');
  const received = upstream.requests.at(-1);
  t.equal(received?.headers['x-forwarded-proto'], 'https', 'the upstream is told the client came over https');
  t.equal(received?.headers['x-tenant-id'], 'tnt_tls');
  t.equal(received?.headers['authorization'], undefined);

  install(second, path.join(proxy.dir, 'tls'));
  const renewed = await newConnectionServed(proxy, second.serial);
  t.equal(renewed.status, 200, 'a new connection is served the renewed certificate');
  const old = await httpsRequest({ port: proxy.port, agent: kept, headers: AUTH });
  t.ok(old.reused, 'the kept-alive connection from before the renewal is still open');
  t.equal(old.status, 200, 'and still works');
  t.equal(old.serial, first.serial, 'with the certificate it was opened with');
  const applied = logged(proxy, 'TLS certificate reloaded').at(-1);
  t.match(applied, { serialNumber: second.serial, previousSerialNumber: first.serial, subject: /CN=localhost/, notAfter: /^\d{4}-/ }, 'one line per applied reload');
  t.notOk(/PRIVATE KEY/.test(proxy.stdout() + proxy.stderr()), 'no key material in the logs');

  // A key from another certificate: refused, the renewed certificate stays.
  const refusedBefore = logged(proxy, REFUSED).length;
  copyFileSync(third.keyFile, path.join(proxy.dir, 'tls', 'tls.key'));
  await waitFor(() => logged(proxy, REFUSED).length > refusedBefore, 15_000, 'the bad pair refused');
  t.match(logged(proxy, REFUSED).at(-1), { level: 'error', problem: /^tls\.keyFile: the key in .* does not match the certificate/ });
  const stays = await httpsRequest({ port: proxy.port, ca: ca.caPem, headers: AUTH });
  t.equal(stays.status, 200);
  t.equal(stays.serial, second.serial, 'the certificate in force stays after a bad pair');

  const metrics = await scrape(proxy.adminUrl);
  t.equal(sampleValue(metrics, 'custody_proxy_tls_certificate_reloads_total', '{result="applied"}'), 1);
  t.ok((sampleValue(metrics, 'custody_proxy_tls_certificate_reloads_total', '{result="rejected"}') ?? 0) >= 1, 'the refusal is counted');
  // Node's client drops a certificate it does not trust without an alert: the proxy sees the peer leave.
  const failed = ['disconnected', 'timeout', 'protocol', 'other'].map((r) => sampleValue(metrics, 'custody_proxy_tls_handshake_failures_total', `{reason="${r}"}`) ?? 0);
  t.ok(failed.reduce((a, b) => a + b) >= 1, `the untrusting client's handshake is counted (${failed.join(', ')})`);
  const notAfter = Date.parse(String(applied?.['notAfter'])) / 1000;
  t.equal(sampleValue(metrics, 'custody_proxy_tls_certificate_expiry_timestamp_seconds'), notAfter, 'the expiry gauge follows the certificate in force');
  const lint = promtoolCheck(metrics);
  if (lint.ran) t.ok(lint.ok, lint.output);

  // SIGTERM with a kept-alive TLS connection and a TCP connection that never says hello.
  const silent = net.connect(proxy.port, '127.0.0.1');
  silent.on('error', () => undefined);
  t.teardown(() => silent.destroy());
  await new Promise((resolve) => silent.once('connect', resolve));
  const exit = await proxy.kill('SIGTERM');
  t.equal(exit.code, 0, 'drained and exited 0');
});

t.test('a kubelet ..data symlink swap is a renewal too', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  // As kubelet mounts a Secret: tls.crt -> ..data/tls.crt, ..data -> ..<timestamp>/ (swapped by rename).
  const proxy = await tlsProxy(t, upstream, (dir) => {
    mkdirSync(path.join(dir, '..2026_12_06_a'));
    install(first, path.join(dir, '..2026_12_06_a'));
    symlinkSync('..2026_12_06_a', path.join(dir, '..data'));
    symlinkSync('..data/tls.crt', path.join(dir, 'tls.crt'));
    symlinkSync('..data/tls.key', path.join(dir, 'tls.key'));
  });
  const kept = new https.Agent({ keepAlive: true, maxSockets: 1, ca: ca.caPem });
  t.teardown(() => kept.destroy());
  const before = await httpsRequest({ port: proxy.port, agent: kept, headers: AUTH });
  t.equal(before.serial, first.serial);

  const dir = path.join(proxy.dir, 'tls');
  mkdirSync(path.join(dir, '..2026_12_06_b'));
  install(second, path.join(dir, '..2026_12_06_b'));
  symlinkSync('..2026_12_06_b', path.join(dir, '..data_tmp'));
  renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
  rmSync(path.join(dir, '..2026_12_06_a'), { recursive: true });

  const renewed = await newConnectionServed(proxy, second.serial);
  t.equal(renewed.status, 200);
  t.equal(upstream.requests.at(-1)?.headers['x-forwarded-proto'], 'https');
  const old = await httpsRequest({ port: proxy.port, agent: kept, headers: AUTH });
  t.ok(old.reused, 'the connection from before the swap is still open');
  t.equal(old.status, 200);
  t.equal(old.serial, first.serial, 'with its old certificate');
  t.equal(logged(proxy, REFUSED).length, 0, 'an atomic swap never shows a half pair');
});

// A whole second: a file's own sub-millisecond mtime would not survive utimes exactly.
const FIXED_MTIME = 1_700_000_000;

/** Writes `leaf`'s PEM files over FILES in place, padded with newlines to `size` bytes, mtime fixed: no stat change. */
function rewriteUnseen(leaf: Leaf, files: { cert: string; key: string }, size: number): void {
  for (const [from, to] of [[leaf.certFile, files.cert], [leaf.keyFile, files.key]] as const) {
    const pem = readFileSync(from, 'utf8');
    if (pem.length > size) throw new Error(`${from} is larger than ${size} bytes`);
    writeFileSync(to, pem + '\n'.repeat(size - pem.length));
    utimesSync(to, FIXED_MTIME, FIXED_MTIME);
  }
}

t.test('SIGHUP re-reads the pair when files change where no watch or poll sees it', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  // tls/tls.crt and tls/tls.key link to files in another folder (not watched), rewritten in place with
  // their size and mtime kept (the poll's stat sees nothing): only a SIGHUP reveals the change.
  const SIZE = 8192;
  let files = { cert: '', key: '' };
  const proxy = await tlsProxy(t, upstream, (dir) => {
    const store = path.join(dir, '..', 'pem-store');
    mkdirSync(store);
    files = { cert: path.join(store, 'cert.pem'), key: path.join(store, 'key.pem') };
    writeFileSync(files.cert, '');
    writeFileSync(files.key, '');
    rewriteUnseen(first, files, SIZE);
    symlinkSync(files.cert, path.join(dir, 'tls.crt'));
    symlinkSync(files.key, path.join(dir, 'tls.key'));
  });
  t.equal((await httpsRequest({ port: proxy.port, ca: ca.caPem, headers: AUTH })).serial, first.serial);

  rewriteUnseen(second, files, SIZE);
  await new Promise((resolve) => setTimeout(resolve, 2500)); // longer than the 2 s poll
  t.equal((await httpsRequest({ port: proxy.port, ca: ca.caPem, headers: AUTH })).serial, first.serial, 'unseen by watch and poll');
  process.kill(proxy.pid, 'SIGHUP');
  const renewed = await newConnectionServed(proxy, second.serial);
  t.equal(renewed.status, 200, 'after SIGHUP a new connection is served the new certificate');
  t.match(logged(proxy, 'TLS certificate reloaded').at(-1), { serialNumber: second.serial, trigger: 'SIGHUP' });
  t.equal(logged(proxy, REFUSED).length, 0);
  t.doesNotThrow(() => process.kill(proxy.pid, 0), 'SIGHUP did not end the process');
});

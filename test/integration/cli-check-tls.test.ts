// SPEC §2 rev 2: `custody-proxy check` validates the TLS files serve reads: the listener's certificate
// and key (readable, PEM, the key matching the certificate, the certificate not expired) and
// upstream.caFile, each problem naming the config key, the file and its line in the config; a
// certificate expiring within 7 days is a warning. Certificates are made here with openssl.
// main() runs in this process.
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../src/cli.js';
import { inProcess, type CliRun } from '../helpers/cli-run.js';
import { credentialsYaml } from '../helpers/credentials.js';
import { makeCa } from '../helpers/test-certificates.js';

const CREDS = credentialsYaml([{ id: 'tnt_one' }], [{ keyId: 'ck_live_one', tenant: 'tnt_one', secret: 'sk_live_one' }]);
const ca = makeCa();
t.teardown(() => ca.remove());
const good = ca.issue('good', '1a01', { days: 30 });
const other = ca.issue('other', '1a02', { days: 30 });
const expired = ca.issue('expired', '1a03', { days: -1 });
const soon = ca.issue('soon', '1a04', { days: 2 });

const check = (config: string): Promise<CliRun> => inProcess(main, ['check', '--config', config]);
const lines = (text: string): string[] => text.split('\n').filter((l) => l !== '');

/** A config folder whose custody-proxy.yaml names these TLS files (relative paths resolve from it). */
function configWith(t: Test, yaml: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'custody-proxy-check-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'credentials.yaml'), CREDS);
  const file = path.join(dir, 'custody-proxy.yaml');
  writeFileSync(file, yaml);
  return file;
}

const tlsConfig = (cert: string, key: string, upstream = 'upstream:\n  url: http://127.0.0.1:3000\n'): string =>
  `listen: 127.0.0.1:8443\ntls:\n  certFile: ${cert}\n  keyFile: ${key}\n${upstream}`;

t.test('a good pair and CA pass', async (t) => {
  const config = configWith(t, tlsConfig(good.certFile, good.keyFile, `upstream:\n  url: https://127.0.0.1:3443\n  caFile: ${ca.caFile}\n`));
  const r = await check(config);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, '');
});

t.test('a missing certificate file names the key, the file and the line', async (t) => {
  const missing = path.join(ca.dir, 'absent.crt');
  const config = configWith(t, tlsConfig(missing, good.keyFile));
  const r = await check(config);
  t.equal(r.code, 1);
  t.same(lines(r.stderr), [`tls.certFile: cannot read ${JSON.stringify(missing)}: ENOENT (at ${config}:3:13)`]);
});

t.test('a key that does not match the certificate', async (t) => {
  const config = configWith(t, tlsConfig(good.certFile, other.keyFile));
  const r = await check(config);
  t.equal(r.code, 1);
  t.same(lines(r.stderr), [
    `tls.keyFile: the key in ${JSON.stringify(other.keyFile)} does not match the certificate in ${JSON.stringify(good.certFile)} (at ${config}:4:12)`,
  ]);
});

t.test('a certificate file holding a key, a key file holding a certificate', async (t) => {
  const swapped = await check(configWith(t, tlsConfig(good.keyFile, good.certFile)));
  t.equal(swapped.code, 1);
  t.match(swapped.stderr, `tls.certFile: ${JSON.stringify(good.keyFile)} holds no PEM certificate`);
  const keyIsCert = await check(configWith(t, tlsConfig(good.certFile, other.certFile)));
  t.equal(keyIsCert.code, 1);
  t.match(keyIsCert.stderr, `tls.keyFile: ${JSON.stringify(other.certFile)} is not a usable unencrypted PEM private key`);
});

t.test('an expired certificate is a problem; one expiring within 7 days a warning', async (t) => {
  const old = await check(configWith(t, tlsConfig(expired.certFile, expired.keyFile)));
  t.equal(old.code, 1);
  t.match(old.stderr, new RegExp(`^tls\\.certFile: the certificate in ${JSON.stringify(expired.certFile).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} expired \\d{4}-`));
  const near = await check(configWith(t, tlsConfig(soon.certFile, soon.keyFile)));
  t.equal(near.code, 0, near.stderr);
  t.match(near.stderr, /^warning: tls\.certFile: the certificate in .* expires \d{4}-.*, within 7 days/m);
});

t.test('upstream.caFile: unreadable or not a certificate; with an http:// upstream it is an error', async (t) => {
  const missing = path.join(ca.dir, 'no-ca.pem');
  const r = await check(configWith(t, `upstream:\n  url: https://127.0.0.1:3443\n  caFile: ${missing}\n`));
  t.equal(r.code, 1);
  t.match(r.stderr, `upstream.caFile: cannot read ${JSON.stringify(missing)}: ENOENT`);
  const notPem = await check(configWith(t, `upstream:\n  url: https://127.0.0.1:3443\n  caFile: ${good.keyFile}\n`));
  t.equal(notPem.code, 1);
  t.match(notPem.stderr, `upstream.caFile: ${JSON.stringify(good.keyFile)} holds no PEM certificate`);
  const plain = await check(configWith(t, `upstream:\n  url: http://127.0.0.1:3000\n  caFile: ${ca.caFile}\n`));
  t.equal(plain.code, 1);
  t.match(plain.stderr, 'upstream.caFile: only used with an https:// upstream.url, not "http://127.0.0.1:3000/"');
});

t.test('minVersion: TLSv1.3 accepted, TLSv1.1 refused; an unknown tls key is an error', async (t) => {
  const v13 = await check(configWith(t, `${tlsConfig(good.certFile, good.keyFile)}`.replace('tls:\n', 'tls:\n  minVersion: TLSv1.3\n')));
  t.equal(v13.code, 0, v13.stderr);
  const v11 = await check(configWith(t, `${tlsConfig(good.certFile, good.keyFile)}`.replace('tls:\n', 'tls:\n  minVersion: TLSv1.1\n')));
  t.equal(v11.code, 1);
  t.match(v11.stderr, 'tls.minVersion: must be TLSv1.2 or TLSv1.3 (TLSv1 and TLSv1.1 are refused)');
  const typo = await check(configWith(t, `${tlsConfig(good.certFile, good.keyFile)}`.replace('tls:\n', 'tls:\n  caFile: x\n')));
  t.equal(typo.code, 1);
  t.match(typo.stderr, 'tls.caFile: unknown key');
});

// SPEC §3 rev 2 `tls` and `upstream.caFile` in the config: paths anchored at the config's folder (as
// credentials.file), minVersion TLSv1.2 by default and TLSv1.3 allowed (older refused), both files
// required, unknown keys errors, and a caFile beside an http:// upstream an error naming its value.
// Only the document is judged here; the files themselves are check's and serve's (tls/pem-pair.ts).
import t from 'tap';
import path from 'node:path';
import { buildConfig } from '../../../src/config/load.js';
import { ProblemsError } from '../../../src/config/problems.js';

const FILE = path.resolve('/srv/cp/conf/custody-proxy.yaml');

function problems(raw: unknown): readonly string[] {
  try {
    buildConfig(raw, FILE, {});
  } catch (err) {
    if (err instanceof ProblemsError) return err.problems;
    throw err;
  }
  return [];
}

t.test('no tls by default; paths resolved from the config folder; minVersion defaults to TLSv1.2', async (t) => {
  t.equal(buildConfig({}, FILE, {}).tls, undefined);
  t.equal(buildConfig({}, FILE, {}).upstream.caFile, undefined);
  const c = buildConfig({ tls: { certFile: 'tls/tls.crt', keyFile: '/abs/tls.key' }, upstream: { url: 'https://u.internal', caFile: '../ca.pem' } }, FILE, {});
  t.strictSame(c.tls, { certFile: '/srv/cp/conf/tls/tls.crt', keyFile: '/abs/tls.key', minVersion: 'TLSv1.2' });
  t.equal(c.upstream.caFile, '/srv/cp/ca.pem');
  t.ok(Object.isFrozen(c.tls), 'frozen like the rest');
  t.equal(buildConfig({ tls: { certFile: 'a', keyFile: 'b', minVersion: 'TLSv1.3' } }, FILE, {}).tls?.minVersion, 'TLSv1.3');
});

t.test('refused: old versions, a missing file, unknown keys, caFile with an http:// upstream', async (t) => {
  for (const old of ['TLSv1', 'TLSv1.1', 'tlsv1.2']) {
    t.strictSame(problems({ tls: { certFile: 'a', keyFile: 'b', minVersion: old } }), [
      `tls.minVersion: must be TLSv1.2 or TLSv1.3 (TLSv1 and TLSv1.1 are refused) (got "${old}")`,
    ]);
  }
  t.strictSame(problems({ tls: { certFile: 'a' } }), ['tls.keyFile: required']);
  t.strictSame(problems({ tls: { certFile: 'a', keyFile: 'b', ca: 'c' } }), ['tls.ca: unknown key']);
  t.strictSame(problems({ upstream: { url: 'http://u.internal:3000', caFile: 'ca.pem' } }), [
    'upstream.caFile: only used with an https:// upstream.url, not "http://u.internal:3000/"',
  ]);
  t.strictSame(problems({ upstream: { caFile: 'ca.pem' } }), ['upstream.caFile: only used with an https:// upstream.url, not "http://127.0.0.1:3000/"'], 'the default upstream is http://');
});

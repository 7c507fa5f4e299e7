// SPEC §8 control endpoint token rotation (issue 18): credentials.tokenFile is re-read when it changes.
// A real endpoint on 127.0.0.1 accepts only token A, then only token B; the token file is mounted the
// way Kubernetes mounts a Secret (the file is a link through `..data`, which is swapped), and the
// proxy's polls carry B from the next poll on, with no restart and the document still in force.
import t from 'tap';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startUpstream } from '../helpers/recording-upstream.js';
import { startProxy } from '../helpers/start-proxy.js';
import { credentialsYaml } from '../helpers/credentials.js';
import { waitFor } from '../helpers/waits.js';

const TOKEN_A = 'ctl-token-a-51c2';
const TOKEN_B = 'ctl-token-b-9e07';
const DOC = credentialsYaml([{ id: 'tnt_tok' }], [{ keyId: 'ck_test_tok', tenant: 'tnt_tok', secret: 'sk_test_tok_secret' }]);

/** A Secret volume: `control-token` → `..data/control-token`, `..data` → a timestamped folder. */
function secretVolume(dir: string, token: string, generation: number): void {
  const data = path.join(dir, `..gen_${generation}`);
  mkdirSync(data);
  writeFileSync(path.join(data, 'control-token'), `${token}\n`);
  // The kubelet's atomic swap: a new link renamed over `..data`.
  symlinkSync(path.basename(data), path.join(dir, '..data_tmp'));
  renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
}

t.test('a rotated token file is used from the next poll on', async (t) => {
  const seen: string[] = [];
  let accepted = TOKEN_A;
  const control = http.createServer((req, res) => {
    const auth = req.headers.authorization ?? '';
    seen.push(auth);
    if (auth !== `Bearer ${accepted}`) return void res.writeHead(401).end();
    res.writeHead(200, { 'content-type': 'application/yaml', etag: '"doc-1"' }).end(DOC);
  });
  control.listen(0, '127.0.0.1');
  await once(control, 'listening');
  t.teardown(() => control.close());
  const url = `http://127.0.0.1:${(control.address() as AddressInfo).port}/credentials`;

  const dir = mkdtempSync(path.join(tmpdir(), 'custody-proxy-token-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  secretVolume(dir, TOKEN_A, 1);
  symlinkSync('..data/control-token', path.join(dir, 'control-token'));

  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const proxy = await startProxy({
    upstreamUrl: upstream.url,
    credentialsYaml: DOC,
    config: { credentials: { url, pollInterval: '100ms', tokenFile: path.join(dir, 'control-token') } },
  });
  t.teardown(() => proxy.close());
  await waitFor(() => seen.length >= 3, 2000, 'three polls with token A');
  t.ok(seen.every((a) => a === `Bearer ${TOKEN_A}`), 'token A at first');

  accepted = TOKEN_B;
  secretVolume(dir, TOKEN_B, 2);
  const rotatedAt = seen.length;
  await waitFor(() => seen.includes(`Bearer ${TOKEN_B}`), 1000, 'a poll with token B');
  const firstB = seen.indexOf(`Bearer ${TOKEN_B}`);
  // At most the poll already in flight when the file changed still carries A.
  t.ok(firstB - rotatedAt <= 1, `token B from the next poll on (A after rotation: ${firstB - rotatedAt})`);
  const countAtB = seen.length;
  await waitFor(() => seen.length >= countAtB + 3, 2000, 'three more polls');
  t.ok(seen.slice(firstB).every((a) => a === `Bearer ${TOKEN_B}`), 'only token B after the first B');
  t.notMatch(proxy.logText(), new RegExp(`${TOKEN_A}|${TOKEN_B}`), 'no token in the log');
});

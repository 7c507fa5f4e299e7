// Credential freshness signals (SPEC §8 rev 2, §11 rev 2): custody_proxy_credential_last_reload_timestamp_seconds
// advances whenever a load confirms the document in force (a control endpoint's 304, an unchanged
// file) and freezes while a refused or failed one leaves the proxy on its last good document;
// custody_proxy_credentials_last_reload_success says which of the two the last load was. A real
// control endpoint on 127.0.0.1 answers 500, 200 with an ETag, then 304; a real file gets a bad edit,
// a revert, the same bad edit again, and a deletion.
import t, { type Test } from 'tap';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startUpstream } from '../helpers/recording-upstream.js';
import { startProxy, type TestProxy } from '../helpers/start-proxy.js';
import { credentialsYaml, hashOf, type KeySpec } from '../helpers/credentials.js';
import { sampleValue, scrape } from '../helpers/metrics-text.js';
import { waitFor } from '../helpers/waits.js';

const KEY: KeySpec = { keyId: 'ck_test_fresh_a', tenant: 'tnt_fresh', secret: 'sk_test_fresh_secret' };
const DOC = JSON.stringify({
  tenants: [{ id: KEY.tenant }],
  credentials: [{ keyId: KEY.keyId, tenant: KEY.tenant, status: 'active', secretHash: hashOf(KEY.secret) }],
});

interface Freshness {
  readonly timestamp: number;
  readonly success: number | undefined;
  readonly ready: number | undefined;
  reloads(result: string): number;
}

async function freshness(p: TestProxy): Promise<Freshness> {
  const text = await scrape(p.adminUrl);
  return {
    timestamp: sampleValue(text, 'custody_proxy_credential_last_reload_timestamp_seconds') ?? 0,
    success: sampleValue(text, 'custody_proxy_credentials_last_reload_success'),
    ready: sampleValue(text, 'custody_proxy_ready'),
    reloads: (result) => sampleValue(text, 'custody_proxy_credential_reloads_total', `{result="${result}"}`) ?? 0,
  };
}

/** Waits until the scraped freshness satisfies `cond`; returns that scrape. */
async function until(p: TestProxy, what: string, cond: (f: Freshness) => boolean): Promise<Freshness> {
  let last: Freshness | undefined;
  await waitFor(async () => cond((last = await freshness(p))), 5000, what, 50);
  return last as Freshness;
}

/** A control endpoint: 500, or the document with ETag "v1" (304 to If-None-Match: "v1"). */
async function startControl(t: Test): Promise<{ mode: '500' | 'ok'; readonly answered: number[]; readonly url: string }> {
  const state = { mode: '500' as '500' | 'ok', answered: [] as number[] };
  const server = http.createServer((req, res) => {
    const status = state.mode === '500' ? 500 : req.headers['if-none-match'] === '"v1"' ? 304 : 200;
    state.answered.push(status);
    res.writeHead(status, status === 200 ? { 'content-type': 'application/json', etag: '"v1"' } : status === 304 ? { etag: '"v1"' } : {});
    res.end(status === 200 ? DOC : status === 500 ? 'down' : undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return Object.assign(state, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/credentials` });
}

t.test('control endpoint: a 304 advances freshness; a failure sets last_reload_success 0 and freezes it', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const control = await startControl(t);
  const p = await startProxy({ upstreamUrl: upstream.url, credentialsYaml: '', config: { credentials: { url: control.url, pollInterval: '100ms' } } });
  t.teardown(() => p.close());

  const down = await freshness(p);
  t.equal(down.success, 0, 'the first fetch failed: last_reload_success 0');
  t.equal(down.ready, 0, 'no document yet: custody_proxy_ready 0');
  t.equal(down.timestamp, 0, 'no successful load yet');

  control.mode = 'ok';
  const loaded = await until(p, 'the first document', (f) => f.reloads('applied') === 1);
  t.equal(loaded.success, 1, 'loaded: last_reload_success 1');
  t.equal(loaded.ready, 1, 'loaded: custody_proxy_ready 1');

  const confirmed = await until(p, 'a 304 to advance the timestamp', (f) => f.reloads('unchanged') >= 1 && f.timestamp > loaded.timestamp);
  t.ok(control.answered.includes(304), 'the endpoint answered 304');
  t.equal(confirmed.reloads('applied'), 1, 'a 304 is not a new document');
  t.equal(confirmed.success, 1, 'a 304 is a successful load');

  control.mode = '500';
  const failed = await until(p, 'a failed fetch', (f) => f.reloads('error') > down.reloads('error'));
  t.equal(failed.success, 0, 'a failed fetch sets last_reload_success 0');
  const served = control.answered.length;
  await waitFor(() => control.answered.length >= served + 2, 5000, 'two more failed fetches');
  t.equal((await freshness(p)).timestamp, failed.timestamp, 'failures do not advance the timestamp');
  t.equal((await freshness(p)).ready, 1, 'the last good document stays: still ready');

  control.mode = 'ok';
  const back = await until(p, 'a 304 after the failures', (f) => f.success === 1);
  t.ok(back.timestamp > failed.timestamp, 'the 304 advances the timestamp again');
});

t.test('file: a bad edit sets last_reload_success 0 and freezes freshness; the revert sets 1 and advances it', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const p = await startProxy({ upstreamUrl: upstream.url, credentialsYaml: credentialsYaml([{ id: KEY.tenant }], [KEY]) });
  t.teardown(() => p.close());
  const file = path.join(p.dir, 'credentials.yaml');
  const good = readFileSync(file, 'utf8');

  const start = await freshness(p);
  t.equal(start.success, 1, 'the first load succeeded');
  await until(p, 'the stat poll to confirm the unchanged file', (f) => f.timestamp > start.timestamp);

  writeFileSync(file, 'tenants: [');
  const refused = await until(p, 'the bad edit to be refused', (f) => f.reloads('rejected') === 1);
  t.equal(refused.success, 0, 'refused: last_reload_success 0');
  await sleep(1500); // more than the 1 s stat poll: a confirmation would show now
  const later = await freshness(p);
  t.equal(later.timestamp, refused.timestamp, 'the file is not the document in force: freshness frozen');
  t.equal(later.reloads('rejected'), 1, 'one edit, one rejected reload');

  writeFileSync(file, good);
  const reverted = await until(p, 'the revert', (f) => f.reloads('unchanged') >= 1);
  t.equal(reverted.success, 1, 'the revert confirms the document in force: last_reload_success 1');
  t.ok(reverted.timestamp > refused.timestamp, 'and advances the timestamp');

  writeFileSync(file, 'tenants: [');
  const again = await until(p, 'the same bad edit again', (f) => f.reloads('rejected') === 2);
  t.equal(again.success, 0, 'the same bad text saved again is a new edit, refused and counted');

  unlinkSync(file);
  const gone = await until(p, 'the deleted file', (f) => f.reloads('error') === 1);
  t.equal(gone.success, 0, 'an unreadable file is a failed load (error), not a refused document');
  t.equal(gone.reloads('rejected'), 2, 'not counted as rejected');
  writeFileSync(file, good);
  t.equal((await until(p, 'the restored file', (f) => f.success === 1)).ready, 1, 'the restored file loads; ready throughout');
});

// SPEC §8 control endpoint (`credentials.url`): a real HTTP endpoint on 127.0.0.1 answers 500, 200 JSON,
// 304, 500, garbage, a mislabelled body, an invalid document, a reset, a refused connection, then a new
// YAML document. Checked: fetch at start and every pollInterval, If-None-Match/ETag, the bearer token
// from tokenFile, JSON or YAML by Content-Type, failures counted with the last good document kept, not ready until the first load.
import t, { type Test } from 'tap';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { startUpstream, type RecordingUpstream } from '../helpers/recording-upstream.js';
import { startProxy, type TestProxy } from '../helpers/start-proxy.js';
import { bearer, hashOf, type KeySpec } from '../helpers/credentials.js';
import { request } from '../helpers/http-client.js';

const A: KeySpec = { keyId: 'ck_test_ctl_a', tenant: 'tnt_ctl', secret: 'sk_test_ctl_secret_a' };
const B: KeySpec = { keyId: 'ck_test_ctl_b', tenant: 'tnt_ctl', secret: 'sk_test_ctl_secret_b' };
const TOKEN = 'ctl-token-7f3a9c';

const docObject = (keys: Array<{ k: KeySpec; status: string }>): Record<string, unknown> => ({
  tenants: [{ id: 'tnt_ctl', name: 'Control' }],
  credentials: keys.map(({ k, status }) => ({ keyId: k.keyId, tenant: k.tenant, status, secretHash: hashOf(k.secret) })),
});
/** document 1 (served as JSON): A active */
const DOC1_JSON = JSON.stringify(docObject([{ k: A, status: 'active' }]));
/** document 2 (served as YAML): A revoked, B active */
const DOC2_YAML = `# from the control plane\n${stringify(docObject([{ k: A, status: 'revoked' }, { k: B, status: 'active' }]))}`;

type Mode = 'ok1' | 'ok2' | '500' | 'garbage' | 'yaml-as-json' | 'invalid' | 'reset' | 'hold';

interface Seen {
  readonly mode: Mode;
  readonly authorization: string | undefined;
  readonly ifNoneMatch: string | undefined;
  status: number;
}

interface ControlEndpoint {
  mode: Mode;
  readonly seen: Seen[];
  readonly url: string;
  readonly port: number;
  /** answers held in 'hold' mode */
  readonly held: Array<() => void>;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

async function startControl(t: Test, mode: Mode): Promise<ControlEndpoint> {
  const state = { mode };
  const seen: Seen[] = [];
  const held: Array<() => void> = [];
  const server = http.createServer((req, res) => {
    const m = state.mode;
    const s: Seen = { mode: m, authorization: req.headers.authorization, ifNoneMatch: req.headers['if-none-match'], status: 0 };
    seen.push(s);
    const send = (status: number, headers: Record<string, string>, body = ''): void => {
      s.status = status;
      res.writeHead(status, headers);
      res.end(body);
    };
    switch (m) {
      case 'ok1':
        if (s.ifNoneMatch === '"v1"') send(304, { etag: '"v1"' });
        else send(200, { 'content-type': 'application/json; charset=utf-8', etag: '"v1"' }, DOC1_JSON);
        return;
      case 'ok2':
        if (s.ifNoneMatch === '"v2"') send(304, { etag: '"v2"' });
        else send(200, { 'content-type': 'application/yaml', etag: '"v2"' }, DOC2_YAML);
        return;
      case '500':
        send(500, { 'content-type': 'text/plain' }, 'control plane down');
        return;
      case 'garbage':
        send(200, { 'content-type': 'application/json', etag: '"garbage"' }, '{"tenants": [ \u0000 not json at all');
        return;
      case 'yaml-as-json':
        // a valid YAML document labelled as JSON: the Content-Type decides, so this must be refused
        send(200, { 'content-type': 'application/json', etag: '"mislabelled"' }, DOC2_YAML);
        return;
      case 'invalid':
        send(
          200,
          { 'content-type': 'application/json', etag: '"invalid"' },
          JSON.stringify({ tenants: [{ id: 'tnt_ctl' }], credentials: [{ keyId: B.keyId, tenant: 'tnt_missing', status: 'active', secretHash: hashOf(B.secret) }] }),
        );
        return;
      case 'reset':
        s.status = -1;
        req.socket.destroy();
        return;
      case 'hold':
        held.push(() => send(500, {}, 'late'));
        return;
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const stop = async (): Promise<void> => {
    server.closeAllConnections();
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  t.teardown(async () => {
    for (const h of held.splice(0)) h();
    await stop();
  });
  return {
    get mode() {
      return state.mode;
    },
    set mode(m: Mode) {
      state.mode = m;
    },
    seen,
    held,
    port,
    url: `http://127.0.0.1:${port}/v1/credentials`,
    stop,
    async restart() {
      server.listen(port, '127.0.0.1');
      await once(server, 'listening');
    },
  };
}

let upstream: RecordingUpstream;
t.before(async () => {
  upstream = await startUpstream();
});
t.teardown(() => upstream.close());

function tokenFile(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'custody-proxy-ctl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'control-token');
  writeFileSync(file, `${TOKEN}\n`); // the trailing newline is not part of the token
  return file;
}

async function openProxy(t: Test, control: ControlEndpoint, pollInterval = '150ms', closeAtTeardown = true): Promise<TestProxy> {
  const proxy = await startProxy({
    upstreamUrl: upstream.url,
    credentialsYaml: '', // not used: the control endpoint replaces the file source
    config: { credentials: { url: control.url, pollInterval, tokenFile: tokenFile(t) } },
  });
  if (closeAtTeardown) t.teardown(() => proxy.close());
  return proxy;
}

async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 3000): Promise<number | undefined> {
  const t0 = performance.now();
  for (;;) {
    if (await check()) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) return undefined;
    await sleep(25);
  }
}

async function reloads(p: TestProxy, result: string): Promise<number> {
  const text = (await request(p.adminUrl, { path: '/metrics' })).text;
  const m = new RegExp(`^custody_proxy_credential_reloads_total\\{result="${result}"\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

const statusWith = async (p: TestProxy, k: KeySpec): Promise<number> =>
  (await request(p.url, { path: '/v1/vaults', headers: [['Authorization', bearer(k)]] })).status;

/** Sets the mode, then waits until the proxy has fetched under it and counted the outcome. */
async function step(t: Test, p: TestProxy, control: ControlEndpoint, mode: Mode, result: string): Promise<void> {
  const before = await reloads(p, result);
  const from = control.seen.length;
  control.mode = mode;
  const ms = await waitFor(async () => control.seen.slice(from).some((s) => s.mode === mode) && (await reloads(p, result)) > before);
  t.ok(ms !== undefined, `${mode}: fetched and counted as ${result}`);
}

t.test('the full sequence: 500 at start (not ready), 200 JSON, 304, 500, garbage, mislabelled, invalid, reset, refused, new YAML', async (t) => {
  const control = await startControl(t, '500');
  const p = await openProxy(t, control);

  // fetched at start, before startApp returned; failed, so not ready and every request gets 503
  t.ok(control.seen.length >= 1, 'the endpoint was fetched at start');
  t.equal(control.seen[0]?.authorization, `Bearer ${TOKEN}`, 'with the bearer token from tokenFile, trimmed');
  t.equal(control.seen[0]?.ifNoneMatch, undefined, 'no If-None-Match before any document');
  t.ok((await reloads(p, 'error')) >= 1, 'the 500 is counted as an error');
  const ready = await request(p.adminUrl, { path: '/readyz' });
  t.equal(ready.status, 503, 'not ready until a first document loads');
  t.match(ready.text, /credentials/, 'the reason names the credentials');
  const early = await request(p.url, { path: '/v1/vaults', headers: [['Authorization', bearer(A)]] });
  t.equal(early.status, 503, 'requests get 503, never "allow all"');
  t.equal(early.json()['code'], 'SERVICE_UNAVAILABLE');
  t.equal(upstream.requests.length, 0, 'the upstream is never called while not ready');

  // 200 JSON: document 1 loads, the proxy becomes ready
  await step(t, p, control, 'ok1', 'applied');
  t.ok((await waitFor(async () => (await request(p.adminUrl, { path: '/readyz' })).status === 200)) !== undefined, 'ready after the first document');
  t.equal(await statusWith(p, A), 200, 'A works (document 1, parsed as JSON)');
  const firstOk = control.seen.find((s) => s.mode === 'ok1');
  t.equal(firstOk?.status, 200);
  t.equal(firstOk?.ifNoneMatch, undefined, 'the first successful fetch carried no If-None-Match');

  // 304: If-None-Match with the ETag of the document in force, counted unchanged
  await step(t, p, control, 'ok1', 'unchanged');
  const conditional = control.seen.filter((s) => s.mode === 'ok1' && s.status === 304);
  t.ok(conditional.length >= 1, 'the endpoint answered 304');
  t.equal(conditional[0]?.ifNoneMatch, '"v1"', 'If-None-Match carries the ETag');
  t.equal(await statusWith(p, A), 200);

  // failures: each counted, the last good document stays in force, readiness stays
  const snapshot = p.app.registry.current;
  await step(t, p, control, '500', 'error');
  t.equal(await statusWith(p, A), 200, 'after a 500: A still works');
  await step(t, p, control, 'garbage', 'rejected');
  t.equal(await statusWith(p, A), 200, 'after garbage: A still works');
  await step(t, p, control, 'yaml-as-json', 'rejected');
  t.equal(await statusWith(p, A), 200, 'a YAML body labelled application/json is refused (Content-Type decides)');
  t.equal(await statusWith(p, B), 401, 'and its key B is not accepted');
  await step(t, p, control, 'invalid', 'rejected');
  t.equal(await statusWith(p, B), 401, 'after an invalid document: B not accepted');
  await step(t, p, control, 'reset', 'error');
  t.equal(await statusWith(p, A), 200, 'after a reset connection: A still works');

  // refused: nothing listens on the port for a while
  const errors = await reloads(p, 'error');
  await control.stop();
  t.ok((await waitFor(async () => (await reloads(p, 'error')) > errors)) !== undefined, 'a refused connection is counted as an error');
  t.equal(await statusWith(p, A), 200, 'while refused: A still works');
  t.equal(p.app.registry.current, snapshot, 'no failure replaced the snapshot');
  t.equal((await request(p.adminUrl, { path: '/readyz' })).status, 200, 'still ready: a document is loaded');
  await control.restart();

  // If-None-Match still names document 1: no failed answer's ETag was adopted
  const afterFailures = control.seen.length;
  await step(t, p, control, 'ok1', 'unchanged');
  t.same(
    [...new Set(control.seen.slice(afterFailures).map((s) => s.ifNoneMatch))],
    ['"v1"'],
    'If-None-Match is the ETag of the document in force, not of a refused answer',
  );
  const loaded1 = control.seen.findIndex((s) => s.mode === 'ok1' && s.status === 200);
  const withoutEtag = control.seen.slice(loaded1 + 1).filter((s) => s.ifNoneMatch !== '"v1"');
  t.same(withoutEtag, [], 'every fetch while document 1 was in force carried its ETag, failures included');

  // a new document, as YAML: takes effect (A revoked, B active)
  await step(t, p, control, 'ok2', 'applied');
  t.equal(await statusWith(p, A), 401, 'document 2 (YAML): A revoked');
  t.equal(await statusWith(p, B), 200, 'document 2 (YAML): B works');
  await step(t, p, control, 'ok2', 'unchanged');
  t.equal(control.seen.at(-1)?.ifNoneMatch, '"v2"', 'the new ETag is sent from then on');

  t.same(
    control.seen.filter((s) => s.authorization !== `Bearer ${TOKEN}`).length,
    0,
    `every one of ${control.seen.length} fetches carried Authorization: Bearer <token>`,
  );
  const logs = p.logText();
  t.match(logs, /credentials\[0\]\.tenant/, 'the invalid document\'s problem is logged with its path');
  t.match(logs, /status 500/, 'the 500 is logged');
  t.notMatch(logs, TOKEN, 'the token never reaches the logs');
});

t.test('polled every pollInterval, not faster', async (t) => {
  const control = await startControl(t, 'ok1');
  const p = await openProxy(t, control, '300ms');
  t.equal(await statusWith(p, A), 200);
  const from = control.seen.length;
  await sleep(1600);
  const n = control.seen.length - from;
  t.ok(n >= 3 && n <= 7, `${n} fetches in 1.6 s at a 300 ms interval`);
});

t.test('an invalid first document: not ready, 503, until a valid one arrives', async (t) => {
  const control = await startControl(t, 'invalid');
  const p = await openProxy(t, control);
  t.ok((await reloads(p, 'rejected')) >= 1, 'the invalid document is counted');
  t.equal((await request(p.adminUrl, { path: '/readyz' })).status, 503);
  t.equal(await statusWith(p, B), 503);
  control.mode = 'ok2';
  t.ok((await waitFor(async () => (await statusWith(p, B)) === 200)) !== undefined, 'ready and serving once a valid document loads');
});

t.test('after shutdown the endpoint is no longer polled, even when a fetch was in flight', async (t) => {
  const control = await startControl(t, 'ok1');
  const p = await openProxy(t, control, '100ms', false);
  t.equal(await statusWith(p, A), 200);
  control.mode = 'hold';
  t.ok((await waitFor(() => control.held.length > 0)) !== undefined, 'a fetch is in flight');
  await p.close();
  const atClose = control.seen.length;
  for (const h of control.held.splice(0)) h();
  await sleep(600);
  t.equal(control.seen.length - atClose, 0, 'no fetch after shutdown');
});

// The signals README "Signals" documents, on the real process (`custody-proxy serve`) with a drain
// delay and a shutdown timeout far longer than the bounded waits here (60 s against 15 s), so a
// signal that waited for either would fail the test: SIGINT stops without the drain delay; a second
// SIGTERM ends the delay; a third cuts the request still in flight, and the process still exits 0.
import t from 'tap';
import { startUpstream } from '../helpers/recording-upstream.js';
import { credentialsYaml, bearer } from '../helpers/credentials.js';
import { request, startRequest } from '../helpers/http-client.js';
import { spawnProxy, type SpawnedProxy } from '../helpers/spawn-proxy.js';
import { waitFor, within } from '../helpers/waits.js';

const key = { keyId: 'ck_test_signals', tenant: 'tnt_s', secret: 'sk_test_signals_secret' };
const auth: [string, string] = ['Authorization', bearer(key)];
const CREDS = credentialsYaml([{ id: 'tnt_s' }], [key]);
const LONG = { drainDelay: '60s', shutdownTimeout: '60s' };

const logged = (proxy: SpawnedProxy, msg: RegExp): Array<Record<string, unknown>> =>
  proxy.logLines().filter((l) => typeof l['msg'] === 'string' && msg.test(l['msg']));

t.test('SIGINT (Ctrl-C) stops without waiting for drainDelay, exit 0', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const proxy = await spawnProxy(t, { upstreamUrl: upstream.url, credentialsYaml: CREDS, config: LONG });
  t.equal((await request(proxy.url, { path: '/v1/a', headers: [auth] })).status, 200);
  t.same(await proxy.kill('SIGINT', 15_000), { code: 0, signal: null }, 'exit 0, long before the 60 s drain delay');
  t.match(logged(proxy, /^shutting down/), [{ drainDelayMs: 0 }], 'the drain delay was skipped');
});

t.test('a second SIGTERM ends the drain delay; a third cuts the request in flight; exit 0', async (t) => {
  const upstream = await startUpstream((req, res) => {
    if (req.url !== '/v1/hang') res.end('{"ok":true}');
  });
  t.teardown(() => upstream.close());
  const proxy = await spawnProxy(t, { upstreamUrl: upstream.url, credentialsYaml: CREDS, config: LONG });
  const hanging = startRequest(proxy.url, { path: '/v1/hang', headers: [auth], timeoutMs: 30_000 }).reply.then(() => 'answered', (e: Error) => e.message);
  await waitFor(() => upstream.requests.some((r) => r.url === '/v1/hang'), 10_000, 'the request to reach the upstream');

  process.kill(proxy.pid, 'SIGTERM');
  await waitFor(async () => (await request(proxy.adminUrl, { path: '/readyz' })).status === 503, 5000, 'readiness 503');
  t.equal((await request(proxy.url, { path: '/v1/a', headers: [auth] })).status, 200, 'during the drain delay a new connection is served');

  process.kill(proxy.pid, 'SIGTERM');
  await waitFor(() => logged(proxy, /^not accepting connections/).length > 0, 10_000, 'the second SIGTERM to end the delay');
  const refused = await request(proxy.url, { path: '/v1/a', headers: [auth] }).catch((e: NodeJS.ErrnoException) => e.code);
  t.equal(refused, 'ECONNREFUSED', 'then new connections are refused');
  t.equal(await Promise.race([proxy.exited.then(() => 'exited'), new Promise((r) => setTimeout(() => r('running'), 300))]), 'running',
    'the request in flight is still awaited');

  t.same(await proxy.kill('SIGTERM', 15_000), { code: 0, signal: null }, 'the third SIGTERM: exit 0 long before shutdownTimeout');
  const cut = await within(hanging, 5000, 'the cut request to end');
  t.not(cut, 'answered', `the request in flight was cut (${cut})`);
  t.match(logged(proxy, /cutting the requests still in flight/), [{ level: 'warn', cut: 1, hurried: true }], 'and the cut is logged');
});

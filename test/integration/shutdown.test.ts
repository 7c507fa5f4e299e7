// SPEC §12 SIGTERM drain with the real process: readiness turns 503 while the admin listener keeps
// answering, new requests get 503 SERVICE_UNAVAILABLE, a slow request in flight finishes (and its
// idempotency record completes: another replica replays it), then the process exits 0 in time.
import t from 'tap';
import http from 'node:http';
import { startUpstream } from '../helpers/recording-upstream.js';
import { startProxy } from '../helpers/start-proxy.js';
import { credentialsYaml, bearer } from '../helpers/credentials.js';
import { request } from '../helpers/http-client.js';
import { machineRedis, missing } from '../helpers/redis-server.js';
import { spawnProxy } from '../helpers/spawn-proxy.js';
import { waitFor } from '../helpers/waits.js';

const key = { keyId: 'ck_test_drain', tenant: 'tnt_d', secret: 'sk_test_drain_secret' };

t.test('SIGTERM drains in-flight requests and exits 0', async (t) => {
  const redis = await machineRedis(t, 'drain');
  if (!redis) return missing(t, 'Redis on 127.0.0.1:6379');
  const prefix = redis.prefix;
  let release: (() => void) | undefined;
  const upstream = await startUpstream((req, res) => {
    if (req.url === '/slow') {
      release = () => {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end('{"done":true}');
      };
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  t.teardown(() => upstream.close());
  const options = {
    upstreamUrl: upstream.url,
    credentialsYaml: credentialsYaml([{ id: 'tnt_d' }], [key]),
    config: { shutdownTimeout: '10s', idempotency: { store: 'redis', redis: { url: redis.url, keyPrefix: prefix } } },
  };
  const proxy = await spawnProxy(t, options);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const auth: [string, string] = ['Authorization', bearer(key)];
  t.equal((await request(proxy.url, { path: '/v1/ok', headers: [auth], agent })).status, 200, 'kept-alive connection open');

  const inFlight = request(proxy.url, {
    method: 'POST',
    path: '/slow',
    headers: [auth, ['Idempotency-Key', 'drain-1'], ['Content-Type', 'application/json']],
    body: '{"w":1}',
  });
  await waitFor(() => release !== undefined, 10_000, 'the slow request to reach the upstream');
  process.kill(proxy.pid, 'SIGTERM');
  await waitFor(async () => (await request(proxy.adminUrl, { path: '/readyz' })).status === 503, 5000, 'readiness 503');
  t.equal((await request(proxy.adminUrl, { path: '/healthz' })).status, 200, 'admin still answers');
  const late = await request(proxy.url, { path: '/v1/ok', headers: [auth], agent }).catch((e: Error) => e);
  if (late instanceof Error) t.pass(`new request refused: ${late.message}`);
  else {
    t.equal(late.status, 503);
    t.equal(late.json()['code'], 'SERVICE_UNAVAILABLE');
  }
  const before = upstream.requests.length;
  release?.();
  const done = await inFlight;
  t.equal(done.status, 201, 'the in-flight request finished');
  t.equal(done.text, '{"done":true}');
  const exit = await proxy.exited;
  t.same(exit, { code: 0, signal: null }, 'exit 0');
  t.ok(upstream.requests.length >= before, 'no request lost');

  // The record completed before exit: another replica on the same Redis replays it.
  const replica = await startProxy({ ...options, config: { idempotency: options.config.idempotency } });
  t.teardown(() => replica.close());
  const executions = upstream.requests.filter((r) => r.url === '/slow').length;
  const replay = await request(replica.url, {
    method: 'POST',
    path: '/slow',
    headers: [auth, ['Idempotency-Key', 'drain-1'], ['Content-Type', 'application/json']],
    body: '{"w":1}',
  });
  t.equal(replay.status, 201);
  t.equal(replay.headers['idempotent-replayed'], 'true');
  t.equal(upstream.requests.filter((r) => r.url === '/slow').length, executions, 'not executed again');
});

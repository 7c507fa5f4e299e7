// SPEC §12 rollouts with the real process (`custody-proxy serve`, drainDelay 1s): through SIGTERM, clients
// opening a new connection per request and clients on kept-alive connections are served normally for
// the drain delay while /readyz says 503; then new connections are refused, a request on an open
// connection gets 503 + Connection: close, a slow keyed POST in flight finishes and its record is stored
// (another replica replays it), and the process exits 0. Every request the proxy accepted (an access
// line) was answered. Also the signals README "Signals" documents: SIGINT skips the delay, a second
// SIGTERM ends it, a third cuts what is in flight.
import t, { type Test } from 'tap';
import http from 'node:http';
import { startUpstream } from '../helpers/recording-upstream.js';
import { startProxy } from '../helpers/start-proxy.js';
import { credentialsYaml, bearer } from '../helpers/credentials.js';
import { request, startRequest } from '../helpers/http-client.js';
import { machineRedis, missing } from '../helpers/redis-server.js';
import { spawnProxy, type SpawnedProxy } from '../helpers/spawn-proxy.js';
import { gate, waitFor, within } from '../helpers/waits.js';
import { startTraffic, type Attempt } from '../helpers/rollout-traffic.js';

const key = { keyId: 'ck_test_drain', tenant: 'tnt_d', secret: 'sk_test_drain_secret' };
const auth: [string, string] = ['Authorization', bearer(key)];
const CREDS = credentialsYaml([{ id: 'tnt_d' }], [key]);
const slowPost = { method: 'POST', path: '/slow', body: '{"w":1}', headers: [auth, ['Idempotency-Key', 'drain-1'], ['Content-Type', 'application/json']] } as const;
// The proxy logs the close right after it (same clock, millisecond resolution): an attempt that
// ended this long before the logged time ended while the listener was still accepting.
const TICK_MS = 5;

/** Epoch ms of the proxy's first log line with this message. */
function loggedAt(proxy: SpawnedProxy, msg: RegExp): number | undefined {
  const line = proxy.logLines().find((l) => typeof l['msg'] === 'string' && msg.test(l['msg']));
  return typeof line?.['time'] === 'number' ? line['time'] : undefined;
}

const count = (list: Attempt[], p: (a: Attempt) => boolean): number => list.filter(p).length;

/** How many attempts of each kind ended each way, e.g. { "fresh 200": 3, "fresh ECONNREFUSED": 4 }. */
function tally(list: Attempt[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of list) {
    const label = `${a.kind} ${a.status === 0 ? a.error : String(a.status)}`;
    out[label] = (out[label] ?? 0) + 1;
  }
  return out;
}

t.test('SIGTERM: served through drainDelay, then 503 + Connection: close, in-flight keyed POST stored, exit 0', async (t) => {
  const redis = await machineRedis(t, 'drain');
  if (!redis) return missing(t, 'Redis on 127.0.0.1:6379');
  const held = gate();
  const upstream = await startUpstream((req, res) => {
    const answer = (): void => {
      res.writeHead(req.url === '/slow' ? 201 : 200, { 'content-type': 'application/json' });
      res.end(req.url === '/slow' ? '{"done":true}' : '{"ok":true}');
    };
    if (req.url === '/slow') void held.wait.then(answer);
    else answer();
  });
  t.teardown(() => upstream.close());
  const idempotency = { store: 'redis', redis: { url: redis.url, keyPrefix: redis.prefix } };
  const proxy = await spawnProxy(t, { upstreamUrl: upstream.url, credentialsYaml: CREDS, config: { drainDelay: '1s', shutdownTimeout: '10s', idempotency } });
  let stopped = false;
  const traffic = startTraffic(proxy.url, bearer(key), { loops: { fresh: 2, kept: 2 }, keptPauseMs: 20, stop: () => stopped });
  t.teardown(() => { stopped = true; });
  const idle = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => idle.destroy());
  t.equal((await request(proxy.url, { path: '/v1/idle', headers: [auth], agent: idle })).status, 200, 'an idle kept-alive connection is open');
  await waitFor(() => traffic.attempts.filter((a) => a.status === 200).length >= 20, 10_000, 'traffic to flow');

  const inFlight = startRequest(proxy.url, slowPost);
  await waitFor(() => upstream.requests.some((r) => r.url === '/slow'), 10_000, 'the slow POST to reach the upstream');
  const signalled = Date.now();
  process.kill(proxy.pid, 'SIGTERM');
  await waitFor(async () => (await request(proxy.adminUrl, { path: '/readyz' })).status === 503, 5000, 'readiness 503');
  const closedAt = await waitForLog(proxy, /^not accepting connections/);
  await checkIdleConnection(t, proxy, idle);
  // Each kept-alive client has been told to reconnect while the slow POST is still in flight.
  await waitFor(() => [0, 1].every((n) => traffic.attempts.some((a) => a.kind === 'kept' && a.loop === n && a.connectionClose)), 5000, 'Connection: close on each kept-alive connection');
  t.equal((await request(proxy.adminUrl, { path: '/healthz' })).status, 200, 'the admin listener still answers while closing');
  held.open();
  const done = await inFlight.reply;
  t.equal(done.status, 201, 'the in-flight keyed POST finished');
  t.equal(done.text, '{"done":true}');
  t.same(await within(proxy.exited, 15_000, 'exit after SIGTERM'), { code: 0, signal: null }, 'exit 0');
  stopped = true;
  await within(traffic.done, 10_000, 'the client loops to end');

  checkTraffic(t, traffic.attempts, loggedAt(proxy, /^shutting down/) ?? signalled, closedAt);
  checkAccepted(t, proxy, traffic.attempts);
  await checkReplay(t, { upstreamUrl: upstream.url, credentialsYaml: CREDS, config: { idempotency } }, upstream.requests);
});

async function waitForLog(proxy: SpawnedProxy, msg: RegExp): Promise<number> {
  let at: number | undefined;
  await waitFor(() => (at = loggedAt(proxy, msg)) !== undefined, 10_000, `log line ${msg}`);
  return at as number;
}

/** A request on a connection that was idle when the listener closed: 503 + close; the next one is refused. */
async function checkIdleConnection(t: Test, proxy: SpawnedProxy, idle: http.Agent): Promise<void> {
  const r = await request(proxy.url, { path: '/v1/idle', headers: [auth], agent: idle });
  t.equal(r.status, 503, 'a request on an open idle connection after the close: 503');
  t.equal(r.headers['connection'], 'close', 'with Connection: close');
  t.equal(r.headers['retry-after'], '1');
  t.same(r.json(), { code: 'SERVICE_UNAVAILABLE', message: r.json()['message'], requestId: r.headers['x-request-id'] }, 'the §10 body');
  const next = await request(proxy.url, { path: '/v1/idle', headers: [auth], agent: idle }).catch((e: NodeJS.ErrnoException) => e);
  t.equal(next instanceof Error ? next.code : next.status, 'ECONNREFUSED', 'its next request needs a new connection: refused');
}

/**
 * Attempts that ended before the close were all served (200); those begun after it were refused, or on
 * a kept-alive connection answered 503 + Connection: close. Attempts under way at the close may be any
 * of these, or a new connection the kernel held in the listen queue, reset unread (ECONNRESET).
 */
function checkTraffic(t: Test, attempts: Attempt[], delayBegan: number, closedAt: number): void {
  const before = attempts.filter((a) => a.ended < closedAt - TICK_MS);
  // Times are whole milliseconds: an attempt stamped with the close's own millisecond may have begun
  // before it (and been accepted), so only the later ones count as begun after the close.
  const after = attempts.filter((a) => a.started > closedAt);
  const atClose = attempts.filter((a) => a.ended >= closedAt - TICK_MS && a.started <= closedAt);
  const inDelay = before.filter((a) => a.started >= delayBegan);
  const kept = attempts.filter((a) => a.kind === 'kept');
  t.comment(`drain delay ${closedAt - delayBegan} ms: ${count(inDelay, (a) => a.kind === 'fresh')} new connections opened (and answered), ` +
    `${count(inDelay, (a) => a.status !== 200)} errors, ${count(inDelay, (a) => a.status === 200)} requests answered 200`);
  t.comment(`under way at the close: ${atClose.length} ${JSON.stringify(tally(atClose))}; kept-alive connections told to close: ` +
    `${count(kept, (a) => a.status === 503)} by a 503, ${count(kept, (a) => a.status === 200 && a.connectionClose)} by their in-flight 200; ` +
    `begun after the close: ${count(after, (a) => a.error === 'ECONNREFUSED')} new connections refused, ${count(after, (a) => a.status === 0 && a.error !== 'ECONNREFUSED')} other errors`);
  t.ok(count(inDelay, (a) => a.kind === 'fresh') > 0, 'new connections were opened during the drain delay');
  t.same(before.filter((a) => a.status !== 200 || (a.kind === 'kept' && a.connectionClose)), [], 'until the listener closed, every attempt was answered 200 (no connection error), kept-alive connections kept open');
  t.same(after.filter((a) => a.kind === 'fresh' && a.error !== 'ECONNREFUSED'), [], 'after the close, new connections are refused');
  t.same(after.filter((a) => a.kind === 'kept' && a.status !== 503 && a.error !== 'ECONNREFUSED'), [], 'after the close, a kept-alive connection gets 503, then its new connection is refused');
  t.same(atClose.filter((a) => a.status === 0 && !(a.error === 'ECONNREFUSED' || (a.kind === 'fresh' && a.error === 'ECONNRESET'))), [],
    'at the close: a kept-alive connection is never reset; a new one is served, refused, or reset unread from the listen queue');
  t.same(kept.filter((a) => a.status !== 0 && a.started > closedAt && !a.connectionClose), [], 'after the close, every answer on a kept-alive connection closes it');
  t.same(attempts.filter((a) => a.status === 503 && (!a.connectionClose || a.code !== 'SERVICE_UNAVAILABLE' || a.ended < closedAt)), [],
    'each 503 is SERVICE_UNAVAILABLE with Connection: close, after the close');
}

/** The proxy's own record: every request it accepted has an access line, and every one was answered. */
function checkAccepted(t: Test, proxy: SpawnedProxy, attempts: Attempt[]): void {
  const accepted = proxy.logLines().filter((l) => l['msg'] === 'request' && /^\/v1\/(fresh|kept)\//.test(String(l['path'])));
  const answered = new Set(attempts.filter((a) => a.status !== 0).map((a) => a.requestId));
  t.same(accepted.filter((l) => !answered.has(String(l['requestId']))).map((l) => `${String(l['path'])} ${String(l['status'])} ${String(l['outcome'])}`), [], 'every request the proxy accepted was answered');
  t.equal(accepted.length, answered.size, 'and every answer is one of them');
}

async function checkReplay(t: Test, options: Parameters<typeof startProxy>[0], seen: ReadonlyArray<{ url: string }>): Promise<void> {
  const replica = await startProxy(options);
  t.teardown(() => replica.close());
  const executions = seen.filter((r) => r.url === '/slow').length;
  const replay = await request(replica.url, slowPost);
  t.equal(replay.status, 201, 'its record was stored: another replica on the same Redis replays it');
  t.equal(replay.headers['idempotent-replayed'], 'true');
  t.equal(replay.text, '{"done":true}');
  t.equal(seen.filter((r) => r.url === '/slow').length, executions, 'not executed again');
}

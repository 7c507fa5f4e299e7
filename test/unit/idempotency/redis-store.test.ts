// RedisStore fails closed without the machine's Redis: a port where nothing listens, and a server
// that accepts connections but never answers. Both must reject with StoreUnavailableError within
// ~1.5 s, and nothing here may hang the test run. Only 127.0.0.1 is used.
import net from 'node:net';
import t, { type Test } from 'tap';
import { makeFingerprint } from '../../../src/idempotency/fingerprint.js';
import { RedisStore } from '../../../src/idempotency/redis-store.js';
import { StoreUnavailableError } from '../../../src/idempotency/store.js';

const FP = makeFingerprint('POST', '/x', Buffer.from('b'));
const OPTS = { ttlMs: 1000, leaseMs: 1000 };

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function within<T>(t: Test, ms: number, what: string, p: Promise<T>): Promise<void> {
  const started = Date.now();
  await t.rejects(p, StoreUnavailableError, what);
  const took = Date.now() - started;
  t.ok(took < ms, `${what}: rejected in ${took} ms`);
}

t.test('nothing listening: claim, complete, release, renew and ping reject fast', async (t) => {
  const store = new RedisStore({ url: `redis://127.0.0.1:${await closedPort()}`, keyPrefix: 'x:' });
  t.teardown(() => store.close());
  t.equal(store.kind, 'redis');
  await within(t, 1500, 'claim', store.claim('t', 'k', FP, OPTS));
  await within(t, 1500, 'ping', store.ping());
  await within(t, 1500, 'complete', store.complete('t', 'k', 'tok', { kind: 'response_unavailable' }));
  await within(t, 1500, 'release', store.release('t', 'k', 'tok'));
  await within(t, 1500, 'renewLease', store.renewLease('t', 'k', 'tok', 1000));
});

t.test('a black hole (accepts, never answers): rejects at the command timeout', async (t) => {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  const port = await listen(server);
  t.teardown(() => new Promise<void>((resolve) => {
    server.close(() => resolve());
    for (const s of sockets) s.destroy();
  }));

  const store = new RedisStore({ url: `redis://127.0.0.1:${port}`, keyPrefix: 'x:' });
  t.teardown(() => store.close());
  await within(t, 1500, 'claim', store.claim('t', 'k', FP, OPTS));
  await within(t, 1500, 'ping', store.ping());
  const [a, b] = await Promise.allSettled([store.claim('t', 'a', FP, OPTS), store.claim('t', 'b', FP, OPTS)]);
  t.ok(a.status === 'rejected' && b.status === 'rejected', 'concurrent callers all fail closed');

  const fast = new RedisStore({ url: `redis://127.0.0.1:${port}`, keyPrefix: 'x:', commandTimeoutMs: 200 });
  t.teardown(() => fast.close());
  await within(t, 600, 'claim with commandTimeoutMs 200', fast.claim('t', 'k', FP, OPTS));
});

t.test('a closed store rejects', async (t) => {
  const store = new RedisStore({ url: `redis://127.0.0.1:${await closedPort()}`, keyPrefix: 'x:' });
  await store.close();
  await store.close();
  await within(t, 100, 'claim after close', store.claim('t', 'k', FP, OPTS));
});

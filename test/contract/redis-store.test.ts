// Runs the shared idempotency store contract against RedisStore on the machine's Redis
// (127.0.0.1:6379), plus what only Redis has: the key layout and reconnecting after an outage.
// Every run uses its own key prefix and deletes its keys at the end. Without Redis: fails under CI, skips otherwise.
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { Redis } from 'ioredis';
import { makeFingerprint, sha256Hex } from '../../src/idempotency/fingerprint.js';
import { RedisStore } from '../../src/idempotency/redis-store.js';
import { StoreUnavailableError } from '../../src/idempotency/store.js';
import { runStoreContract } from './store-contract.js';

const URL = process.env['CUSTODY_PROXY_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const PREFIX = `test:${process.pid}:${Date.now()}:`;
const FP = makeFingerprint('POST', '/v1/x', Buffer.from('body'));

const admin = new Redis(URL, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: 1000, retryStrategy: () => null });
admin.on('error', () => {});
const reachable = await admin.connect().then(() => admin.ping()).then(() => true, () => false);

if (!reachable) {
  if (process.env['CI']) t.fail(`Redis is not reachable at ${URL}; CI needs it`);
  else t.plan(0, `Redis is not reachable at ${URL}; start one to run the Redis store contract`);
  admin.disconnect();
} else {
  t.teardown(async () => {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await admin.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    if (keys.length > 0) await admin.del(...keys);
    await admin.quit();
  });

  runStoreContract(t, 'redis', async () => new RedisStore({ url: URL, keyPrefix: PREFIX }));

  t.test('key layout: hashed client key, one hash tag, ttl on the record, lease beside it', async (t) => {
    const store = new RedisStore({ url: URL, keyPrefix: PREFIX });
    t.teardown(() => store.close());
    const result = await store.claim('acme', 'secret-client-key', FP, { ttlMs: 5000, leaseMs: 2000 });
    t.equal(result.kind, 'claimed');
    const record = `${PREFIX}idem:{acme:${sha256Hex('secret-client-key')}}`;
    t.same((await admin.keys(`${PREFIX}idem:{acme:*`)).sort(), [record, `${record}:lease`], 'only hashed names');
    const hash = await admin.hgetall(record);
    t.match(hash, { state: 'in_flight', method: 'POST', target: '/v1/x', body_sha256: FP.bodySha256 });
    t.equal(hash['owner'], result.kind === 'claimed' ? result.token : '');
    t.equal(await admin.get(`${record}:lease`), hash['owner']);
    const ttl = await admin.pttl(record);
    t.ok(ttl > 4000 && ttl <= 5000, `record ttl ${ttl}`);
    const lease = await admin.pttl(`${record}:lease`);
    t.ok(lease > 1000 && lease <= 2000, `lease ttl ${lease}`);
    if (result.kind !== 'claimed') return;
    t.equal(await store.complete('acme', 'secret-client-key', result.token, { kind: 'response_unavailable' }), true);
    t.equal(await admin.exists(`${record}:lease`), 0, 'lease deleted on completion');
    t.ok((await admin.pttl(record)) > 3000, 'record keeps its ttl');
    t.equal(await admin.hget(record, 'state'), 'completed');
  });

  t.test('a record it cannot read fails closed', async (t) => {
    const store = new RedisStore({ url: URL, keyPrefix: PREFIX });
    t.teardown(() => store.close());
    const record = (k: string): string => `${PREFIX}idem:{broken:${sha256Hex(k)}}`;
    await admin.hset(record('a'), { state: 'completed', method: 'POST', target: '/v1/x', body_sha256: FP.bodySha256, outcome: 'response', status: '200', headers: '{not json' });
    await admin.set(record('b'), 'a string, not a hash');
    await admin.hset(record('c'), { state: 'completed', method: 'POST', target: '/v1/x', body_sha256: FP.bodySha256, outcome: 'mystery' });
    for (const k of ['a', 'b', 'c']) await t.rejects(store.claim('broken', k, FP, { ttlMs: 5000, leaseMs: 5000 }), StoreUnavailableError, k);
  });

  t.test('a claim that misses its deadline is undone when it lands late', async (t) => {
    // A relay that can hold client-to-Redis traffic back: the claim reaches Redis after we gave up.
    let delayMs = 0;
    let forwarded = '';
    const sockets = new Set<net.Socket>();
    const relay = net.createServer((client) => {
      const upstream = net.connect(6379, '127.0.0.1');
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => sockets.delete(s));
      }
      client.on('data', (chunk: Buffer) => setTimeout(() => {
        forwarded += chunk.toString('latin1');
        upstream.write(chunk);
      }, delayMs));
      client.on('close', () => setTimeout(() => upstream.end(), delayMs + 100));
      upstream.on('data', (chunk: Buffer) => client.destroyed || client.write(chunk));
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const address = relay.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    t.teardown(() => new Promise<void>((resolve) => {
      relay.close(() => resolve());
      for (const s of sockets) s.destroy();
    }));
    const store = new RedisStore({ url: `redis://127.0.0.1:${port}`, keyPrefix: PREFIX, commandTimeoutMs: 300 });
    t.teardown(() => store.close());
    await store.ping();

    delayMs = 600;
    forwarded = '';
    await t.rejects(store.claim('late', 'k', FP, { ttlMs: 10_000, leaseMs: 10_000 }), StoreUnavailableError);
    await sleep(1200);
    const record = `${PREFIX}idem:{late:${sha256Hex('k')}}`;
    t.ok(forwarded.split(record).length - 1 >= 2, 'the claim and its undo both reached Redis');
    t.equal(await admin.exists(record, `${record}:lease`), 0, 'no record left without an owner');
  });

  t.test('a lost connection fails closed, then the store reconnects by itself', async (t) => {
    // A TCP relay stands in for an outage: the machine's Redis is never stopped.
    const sockets = new Set<net.Socket>();
    const relay = net.createServer((client) => {
      const upstream = net.connect(6379, '127.0.0.1');
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const address = relay.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const store = new RedisStore({ url: `redis://127.0.0.1:${port}`, keyPrefix: PREFIX });
    t.teardown(() => store.close());

    t.equal((await store.claim('relay', 'a', FP, { ttlMs: 5000, leaseMs: 5000 })).kind, 'claimed', 'works through the relay');
    await new Promise<void>((resolve) => {
      relay.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
    const started = Date.now();
    await t.rejects(store.claim('relay', 'b', FP, { ttlMs: 5000, leaseMs: 5000 }), StoreUnavailableError);
    await t.rejects(store.ping(), StoreUnavailableError);
    t.ok(Date.now() - started < 1500, 'fails within the budget');

    await new Promise<void>((resolve) => relay.listen(port, '127.0.0.1', resolve));
    let recovered = false;
    for (let i = 0; i < 40 && !recovered; i++) {
      await sleep(100);
      recovered = await store.ping().then(() => true, () => false);
    }
    t.ok(recovered, 'reconnected after the outage');
    t.equal((await store.claim('relay', 'b', FP, { ttlMs: 5000, leaseMs: 5000 })).kind, 'claimed', 'claims again');
    await store.close();
    await new Promise<void>((resolve) => {
      relay.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  });
}

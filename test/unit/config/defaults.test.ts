// Proxy config defaults (SPEC §3): an empty document, and a document with every optional section
// absent, yield exactly the values the spec shows; relative file defaults are anchored at the config
// file's folder. Also the §3 duration and size units as they appear in real settings.
import t from 'tap';
import path from 'node:path';
import { buildConfig, type ProxyConfig } from '../../../src/config/load.js';

const FILE = path.resolve('/etc/custody-proxy/custody-proxy.yaml');
const DIR = path.dirname(FILE);
const MiB = 1024 * 1024;
const DAY = 24 * 60 * 60 * 1000;

const build = (raw: unknown): ProxyConfig => buildConfig(raw, FILE, {});

t.test('an empty document yields every §3 default', async (t) => {
  for (const [label, raw] of [
    ['empty object', {}],
    ['null (empty YAML file)', null],
    ['undefined', undefined],
  ] as const) {
    const c = build(raw);
    t.same(c.listen, { host: '0.0.0.0', port: 8080 }, `${label}: listen`);
    t.same(c.admin.listen, { host: '0.0.0.0', port: 9090 }, `${label}: admin.listen`);
    t.equal(c.admin.tokenFile, undefined, `${label}: admin.tokenFile absent (admin endpoints disabled)`);
    t.equal(c.upstream.url.href, 'http://127.0.0.1:3000/', `${label}: upstream.url`);
    t.equal(c.upstream.url.origin, 'http://127.0.0.1:3000', `${label}: upstream origin`);
    t.equal(c.upstream.timeout, 30_000, `${label}: upstream.timeout 30s`);
    t.equal(c.upstream.connectTimeout, 5_000, `${label}: upstream.connectTimeout 5s`);
    t.same(c.trustedProxies, [], `${label}: trustedProxies`);
    t.equal(c.credentials.file, path.join(DIR, 'credentials.yaml'), `${label}: credentials.file next to the config`);
    t.equal(c.credentials.url, undefined, `${label}: credentials.url absent`);
    t.equal(c.credentials.expiryWarning, 7 * DAY, `${label}: credentials.expiryWarning 7d`);
    t.equal(c.credentials.maxAge, 90 * DAY, `${label}: credentials.maxAge 90d`);
    t.equal(c.idempotency.store, 'memory', `${label}: idempotency.store`);
    t.same(c.idempotency.redis, { url: 'redis://127.0.0.1:6379', keyPrefix: 'custody-proxy:', waitReplicas: 0 }, `${label}: idempotency.redis`);
    t.equal(c.idempotency.ttl, 24 * 60 * 60 * 1000, `${label}: idempotency.ttl 24h`);
    t.equal(c.idempotency.lateResponseWindow, 5 * 60 * 1000, `${label}: idempotency.lateResponseWindow 5m`);
    t.same(c.idempotency.methods, ['POST', 'PUT', 'PATCH'], `${label}: idempotency.methods`);
    t.equal(c.idempotency.required, false, `${label}: idempotency.required`);
    t.equal(c.idempotency.maxRequestBytes, MiB, `${label}: maxRequestBytes 1MiB`);
    t.equal(c.idempotency.maxResponseBytes, MiB, `${label}: maxResponseBytes 1MiB`);
    t.equal(c.logging.level, 'info', `${label}: logging.level`);
    t.equal(c.drainDelay, 5_000, `${label}: drainDelay 5s`);
    t.equal(c.environment, 'any', `${label}: environment any (keys of both environments accepted)`);
    t.equal(c.browserRequests, 'refuse', `${label}: browserRequests refuse`);
    t.equal(c.shutdownTimeout, 25_000, `${label}: shutdownTimeout 25s`);
    t.equal(c.configFile, FILE, `${label}: configFile`);
  }
});

t.test('empty sections get their defaults too', async (t) => {
  const c = build({ admin: {}, upstream: {}, credentials: {}, idempotency: { redis: {} }, logging: {} });
  t.same(c.admin.listen, { host: '0.0.0.0', port: 9090 });
  t.equal(c.upstream.url.href, 'http://127.0.0.1:3000/');
  t.equal(c.upstream.timeout, 30_000);
  t.equal(c.upstream.connectTimeout, 5_000);
  t.equal(c.credentials.file, path.join(DIR, 'credentials.yaml'));
  t.same(c.idempotency.redis, { url: 'redis://127.0.0.1:6379', keyPrefix: 'custody-proxy:', waitReplicas: 0 });
  t.equal(c.idempotency.ttl, 86_400_000);
  t.equal(c.logging.level, 'info');
});

t.test('a setting overrides only its own default', async (t) => {
  const c = build({ upstream: { timeout: '10s' }, idempotency: { store: 'redis' } });
  t.equal(c.upstream.timeout, 10_000);
  t.equal(c.upstream.connectTimeout, 5_000, 'sibling keeps its default');
  t.equal(c.upstream.url.href, 'http://127.0.0.1:3000/', 'sibling keeps its default');
  t.equal(c.idempotency.store, 'redis');
  t.same(c.idempotency.redis, { url: 'redis://127.0.0.1:6379', keyPrefix: 'custody-proxy:', waitReplicas: 0 });
  t.same(c.idempotency.methods, ['POST', 'PUT', 'PATCH']);
});

t.test('durations: 500ms, 30s, 5m, 24h, 7d', async (t) => {
  t.equal(build({ upstream: { timeout: '500ms' } }).upstream.timeout, 500);
  t.equal(build({ upstream: { timeout: '30s' } }).upstream.timeout, 30_000);
  t.equal(build({ upstream: { connectTimeout: '5m' } }).upstream.connectTimeout, 300_000);
  t.equal(build({ idempotency: { ttl: '24h' } }).idempotency.ttl, 86_400_000);
  t.equal(build({ idempotency: { ttl: '7d' } }).idempotency.ttl, 7 * 86_400_000, 'days, as SPEC §3 lists 7d');
  t.equal(build({ shutdownTimeout: '90s' }).shutdownTimeout, 90_000);
  t.equal(build({ drainDelay: '1500ms' }).drainDelay, 1500);
  t.equal(build({ credentials: { maxAge: '30d' } }).credentials.maxAge, 30 * DAY);
  t.equal(build({ credentials: { expiryWarning: '36h' } }).credentials.expiryWarning, 36 * 60 * 60 * 1000);
  t.equal(build({ drainDelay: '0s' }).drainDelay, 0, 'drainDelay 0s: stop accepting at once');
  t.equal(build({ credentials: { url: 'https://cp.internal/creds', pollInterval: '500ms' } }).credentials.pollInterval, 500);
});

t.test('sizes: 512KiB, 1MiB', async (t) => {
  t.equal(build({ idempotency: { maxRequestBytes: '512KiB' } }).idempotency.maxRequestBytes, 512 * 1024);
  t.equal(build({ idempotency: { maxResponseBytes: '1MiB' } }).idempotency.maxResponseBytes, MiB);
  t.equal(build({ idempotency: { maxResponseBytes: '2MiB' } }).idempotency.maxResponseBytes, 2 * MiB);
});

t.test('listen addresses', async (t) => {
  t.same(build({ listen: '127.0.0.1:0' }).listen, { host: '127.0.0.1', port: 0 }, 'port 0 asks the OS');
  t.same(build({ listen: '[::1]:8443' }).listen, { host: '::1', port: 8443 }, 'bracketed IPv6');
  t.same(build({ admin: { listen: 'localhost:9999' } }).admin.listen, { host: 'localhost', port: 9999 });
});

t.test('trustedProxies keeps valid IPv4/IPv6 addresses and CIDRs', async (t) => {
  const list = ['10.0.0.0/8', '192.168.1.1', '2001:db8::/32', '::1'];
  t.same(build({ trustedProxies: list }).trustedProxies, list);
});

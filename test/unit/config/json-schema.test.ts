// `custody-proxy schema` (SPEC §2 rev 2): the generated JSON Schemas against the proxy itself. Every
// document the proxy accepts must pass the schema (an editor must never flag a working file), and each
// problem the schema can express must be flagged at the path the proxy names. What only the proxy can
// check (unique ids, an existing tenant, what a ${VAR} holds) is listed at the end.
import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { jsonSchemaOf } from '../../../src/config/json-schema.js';
import { buildConfig } from '../../../src/config/load.js';
import { ProblemsError } from '../../../src/config/problems.js';
import { parseCredentials } from '../../../src/credentials/document-load.js';
import { ROOT } from '../../helpers/cli-run.js';
import { hashOf } from '../../helpers/credentials.js';
import { pathsOf, schemaCheck } from '../../helpers/schema-validator.js';

type Doc = Record<string, unknown>;

const configSchema = schemaCheck(jsonSchemaOf('config'));
const credentialsSchema = schemaCheck(jsonSchemaOf('credentials'));
const ENV = { CP_REDIS_PASSWORD: 'pw', CP_URL: 'http://127.0.0.1:3000', CP_HOST: '127.0.0.1', CP_LEVEL: 'debug', CP_N: '5', CP_REDIS: 'redis://127.0.0.1:6379', CP_TEST_UPSTREAM_URL: 'http://127.0.0.1:4000' };

function proxyConfigProblems(doc: unknown, env: NodeJS.ProcessEnv = ENV): string[] {
  try {
    buildConfig(doc, path.join(ROOT, 'config', 'custody-proxy.yaml'), env);
    return [];
  } catch (err) {
    if (err instanceof ProblemsError) return [...err.problems];
    throw err;
  }
}

function proxyCredentialsProblems(doc: unknown): string[] {
  const result = parseCredentials(stringify(doc));
  return result.ok ? [] : [...result.problems];
}

const readYaml = (...parts: string[]): Doc => parse(readFileSync(path.join(ROOT, ...parts), 'utf8')) as Doc;

/** Documents the proxy loads in the repository: examples, CLI fixtures, the test and bench bases. */
const ACCEPTED_CONFIGS: ReadonlyArray<readonly [string, Doc]> = [
  ['config/custody-proxy.yaml', readYaml('config', 'custody-proxy.yaml')],
  ['test/fixtures/cli/good', readYaml('test', 'fixtures', 'cli', 'good', 'custody-proxy.yaml')],
  ['test/fixtures/cli/bad-credentials (its config is good)', readYaml('test', 'fixtures', 'cli', 'bad-credentials', 'custody-proxy.yaml')],
  ['test/helpers/start-proxy base', { listen: '127.0.0.1:0', admin: { listen: '127.0.0.1:0' }, upstream: { url: 'http://127.0.0.1:4000', timeout: '5s', connectTimeout: '1s' }, credentials: { file: 'credentials.yaml' }, logging: { level: 'info' }, drainDelay: '0s', shutdownTimeout: '2s' }],
  ['bench/lib/custody-setup with redis', { listen: '127.0.0.1:0', admin: { listen: '127.0.0.1:0' }, upstream: { url: 'http://127.0.0.1:4000', timeout: '30s', connectTimeout: '5s' }, trustedProxies: [], credentials: { file: 'credentials.yaml' }, idempotency: { store: 'redis', redis: { url: 'redis://127.0.0.1:6379', keyPrefix: 'bench:' }, ttl: '1h' }, logging: { level: 'info' }, drainDelay: '0s', shutdownTimeout: '2s' }],
  ['empty (every default)', {}],
  ['every setting of SPEC §3', {
    listen: '[::]:8080', environment: 'live', browserRequests: 'allow',
    admin: { listen: '0.0.0.0:9090', tokenFile: '/etc/custody-proxy/admin-token' },
    upstream: { url: 'https://custody.internal:8443/base', timeout: '500ms', connectTimeout: '5s' },
    trustedProxies: ['10.0.0.0/8', '::ffff:10.0.0.0/104', '2001:db8::/32', '192.168.1.1'],
    credentials: { url: 'https://control-plane.internal/credentials', pollInterval: '10s', tokenFile: 'control-token', expiryWarning: '7d', maxAge: '90d' },
    idempotency: { store: 'redis', redis: { sentinels: ['10.0.0.5:26379', '[fd00::5]:26379'], name: 'mymaster', keyPrefix: 'cp:', waitReplicas: 1 }, ttl: '24h', lease: '10s', lateResponseWindow: '0s', onStoreLoss: 'continue', methods: ['POST', 'DELETE'], required: true, maxRequestBytes: '512KiB', maxResponseBytes: '1048576', memory: { maxEntries: 100, maxBytes: '1KiB', minTenantShare: 10 } },
    rateLimits: { store: 'redis', failedAuth: { limit: 20, window: '1m' }, onStoreError: 'deny' },
    server: { headersTimeout: '15s', requestTimeout: '60s', keepAliveTimeout: '65s', maxHeaderSize: '16KiB', maxHeaderCount: 1000 },
    logging: { level: 'silent' }, drainDelay: '0s', shutdownTimeout: '25s',
  }],
  ['Sentinel with logins and TLS (the helm chart\'s password from the environment)', { idempotency: { store: 'redis', redis: { sentinels: ['10.0.0.5:26379'], name: 'm', username: 'proxy', password: '${CP_REDIS_PASSWORD}', sentinelPassword: '${CP_REDIS_PASSWORD}', tls: true, caFile: 'redis-ca.pem' } } }],
  ['Cluster with a password, tls false', { idempotency: { store: 'redis', redis: { cluster: ['10.0.0.5:6379'], password: 'pw', tls: false } }, rateLimits: { store: 'memory' } }],
  ['a rediss:// url with a caFile', { idempotency: { redis: { url: 'rediss://:pw@r:6380', caFile: '/etc/ca.pem' } } }],
  ['redis cluster, failedAuth null, trustedProxies null', { idempotency: { store: 'redis', redis: { cluster: ['10.0.0.5:6379', 'redis-0.redis:6379'] } }, rateLimits: { failedAuth: null }, trustedProxies: null }],
  ['${VAR} in string values (the helm chart\'s redis url)', {
    listen: '${CP_HOST}:8080',
    upstream: { url: '${CP_URL}' }, logging: { level: '${CP_LEVEL}' },
    idempotency: { store: 'redis', redis: { url: '${CP_REDIS}' } }, credentials: { file: 'credentials.yaml' },
  }],
];

const KEY = (over: Doc = {}): Doc => ({ keyId: 'ck_live_a', tenant: 'tnt_a', status: 'active', secretHash: hashOf('s'), ...over });

const ACCEPTED_CREDENTIALS: ReadonlyArray<readonly [string, Doc]> = [
  ['config/credentials.yaml', readYaml('config', 'credentials.yaml')],
  ['test/fixtures/cli/good', readYaml('test', 'fixtures', 'cli', 'good', 'credentials.yaml')],
  ['empty lists', { tenants: [], credentials: [] }],
  ['every field of SPEC §4', {
    tenants: [{ id: 'tnt_a', name: 'A', ipAllowList: ['203.0.113.0/24', '198.51.100.42/32', '2001:db8:1::/48', '::1'], reportOnly: true, rateLimit: { limit: 100, window: '1s', burst: 200 } }, { id: 'tnt_b', ipAllowList: null, rateLimit: null }],
    credentials: [
      KEY({ status: 'rotated', graceUntil: '2026-12-01T00:00:00Z', expiresAt: '2027-06-01', createdAt: '2026-09-01T00:00:00.123+02:00', label: 'payments-prod', ipAllowList: ['203.0.113.7/32'], rateLimit: { limit: 10, window: '1s' }, permissions: [{ methods: ['GET', 'HEAD'], paths: ['/v1/vaults', '/v1/vaults/*', '/v1/reports/**', '/'] }, { methods: ['*'], paths: ['/v1/*/status'] }] }),
      KEY({ keyId: 'ck_test_b', tenant: 'tnt_b', status: 'provisioned', ipAllowList: null }),
    ],
  }],
];

t.test('every document the proxy accepts passes its schema', async (t) => {
  for (const [name, doc] of ACCEPTED_CONFIGS) {
    t.same(proxyConfigProblems(doc), [], `${name}: the proxy accepts it`);
    t.same(configSchema(doc), [], `${name}: the schema accepts it`);
  }
  for (const [name, doc] of ACCEPTED_CREDENTIALS) {
    t.same(proxyCredentialsProblems(doc), [], `${name}: the proxy accepts it`);
    t.same(credentialsSchema(doc), [], `${name}: the schema accepts it`);
  }
});

/** [what, document, the paths both the proxy and the schema flag]. */
const REFUSED_CONFIGS: ReadonlyArray<readonly [string, Doc, string[]]> = [
  ['misspelled key', { idempotency: { sotre: 'redis' } }, ['idempotency.sotre']],
  ['misspelled top-level key', { upstreams: { url: 'http://x' } }, ['upstreams']],
  ['bad duration', { upstream: { timeout: '30 s' }, idempotency: { ttl: '1w' } }, ['idempotency.ttl', 'upstream.timeout']],
  ['zero where more than 0 is needed', { idempotency: { lease: '0s' }, server: { headersTimeout: '000ms' } }, ['idempotency.lease', 'server.headersTimeout']],
  ['a number for a duration or size', { upstream: { timeout: 30 }, idempotency: { maxRequestBytes: 1024 } }, ['idempotency.maxRequestBytes', 'upstream.timeout']],
  ['bad size', { idempotency: { maxResponseBytes: '1MB' }, server: { maxHeaderSize: '0KiB' } }, ['idempotency.maxResponseBytes', 'server.maxHeaderSize']],
  ['bad listen address and URL', { listen: 'nowhere', admin: { listen: ':9090' }, upstream: { url: 'ftp://x' }, credentials: { url: 'http://x/?a=1' } }, ['admin.listen', 'credentials.url', 'listen', 'upstream.url']],
  ['bad CIDR', { trustedProxies: ['1.2.3', '010.0.0.1', '10.0.0.0/33', 'fe80::/129'] }, ['trustedProxies[0]', 'trustedProxies[1]', 'trustedProxies[2]', 'trustedProxies[3]']],
  ['bad enum', { environment: 'prod', logging: { level: 'verbose' }, idempotency: { onStoreLoss: 'ignore' } }, ['environment', 'idempotency.onStoreLoss', 'logging.level']],
  ['bad method and numbers', { idempotency: { methods: ['post'], memory: { maxEntries: 0, minTenantShare: 1.5 } }, server: { maxHeaderCount: 1001 } }, ['idempotency.memory.maxEntries', 'idempotency.memory.minTenantShare', 'idempotency.methods[0]', 'server.maxHeaderCount']],
  ['credentials file and url', { credentials: { file: 'c.yaml', url: 'http://x/c' } }, ['credentials']],
  ['two redis topologies', { idempotency: { redis: { url: 'redis://x', cluster: ['x:1'] } } }, ['idempotency.redis']],
  ['sentinels without name', { idempotency: { redis: { sentinels: ['x:26379'] } } }, ['idempotency.redis.name']],
  ['one server with a login and TLS keys (they go in the url)', { idempotency: { redis: { url: 'redis://x', username: 'u', password: 'p', tls: true, sentinelPassword: 'p' } } },
    ['idempotency.redis.password', 'idempotency.redis.sentinelPassword', 'idempotency.redis.tls', 'idempotency.redis.username']],
  ['sentinel login on a Cluster; a user without its password', { idempotency: { redis: { cluster: ['x:1'], username: 'u', sentinelPassword: 'p' } } }, ['idempotency.redis.password', 'idempotency.redis.sentinelPassword']],
  ['a ${VAR} in a number field: the proxy sees the string "5"', { idempotency: { memory: { maxEntries: '${CP_N}' } } }, ['idempotency.memory.maxEntries']],
  ['failedAuth without window', { rateLimits: { failedAuth: { limit: 3 } } }, ['rateLimits.failedAuth.window']],
];

const CREDS = (over: { tenant?: Doc; key?: Doc }): Doc => ({ tenants: [{ id: 'tnt_a', ...over.tenant }], credentials: [KEY(over.key)] });

const REFUSED_CREDENTIALS: ReadonlyArray<readonly [string, Doc, string[]]> = [
  ['a tenant\'s allowList misspelt', CREDS({ tenant: { allowList: ['10.0.0.0/8'] } }), ['tenants[0].allowList']],
  ['a credential\'s ipAllowlist misspelt', CREDS({ key: { ipAllowlist: [] } }), ['credentials[0].ipAllowlist']],
  ['bad CIDR and hash', CREDS({ tenant: { ipAllowList: ['300.0.0.1'] }, key: { secretHash: 'sha256:ABCDEF' } }), ['credentials[0].secretHash', 'tenants[0].ipAllowList[0]']],
  ['bad status, timestamp, window', CREDS({ tenant: { rateLimit: { limit: 1, window: '0s' } }, key: { status: 'enabled', expiresAt: 'next week' } }), ['credentials[0].expiresAt', 'credentials[0].status', 'tenants[0].rateLimit.window']],
  ['rotated without graceUntil', CREDS({ key: { status: 'rotated' } }), ['credentials[0].graceUntil']],
  ['bad permission rule', CREDS({ key: { permissions: [{ methods: ['get'], paths: ['v1/**', '/a/**/b', '/a*'] }] } }), ['credentials[0].permissions[0].methods[0]', 'credentials[0].permissions[0].paths[0]', 'credentials[0].permissions[0].paths[1]', 'credentials[0].permissions[0].paths[2]']],
  ['missing lists', { tenants: [] }, ['credentials']],
];

t.test('what the proxy refuses, the schema flags at the same path', async (t) => {
  for (const [name, doc, paths] of REFUSED_CONFIGS) {
    t.same(pathsOf(proxyConfigProblems(doc)), paths, `${name}: the proxy names ${paths.join(', ')}`);
    t.same(pathsOf(configSchema(doc)), paths, `${name}: the schema flags ${paths.join(', ')}`);
  }
  for (const [name, doc, paths] of REFUSED_CREDENTIALS) {
    t.same(pathsOf(proxyCredentialsProblems(doc)), paths, `${name}: the proxy names ${paths.join(', ')}`);
    t.same(pathsOf(credentialsSchema(doc)), paths, `${name}: the schema flags ${paths.join(', ')}`);
  }
});

t.test('the CLI fixtures with problems: the schema flags every problem it can express', async (t) => {
  const badConfig = readYaml('test', 'fixtures', 'cli', 'bad-config', 'custody-proxy.yaml');
  const flagged = ['idempotency.maxRequestBytes', 'idempotency.ttl', 'listen', 'trustedProxies[0]', 'upstream.tiemout'];
  t.same(pathsOf(configSchema(badConfig)), flagged);
  t.same(pathsOf(proxyConfigProblems(badConfig)), flagged, 'the same five the proxy reports');
  const badCreds = readYaml('test', 'fixtures', 'cli', 'bad-credentials', 'credentials.yaml');
  t.same(pathsOf(credentialsSchema(badCreds)), ['credentials[0].secretHash', 'credentials[1].colour', 'tenants[0].ipAllowList[1]']);
  t.same(pathsOf(proxyCredentialsProblems(badCreds)), ['credentials[0].secretHash', 'credentials[1].colour', 'credentials[1].tenant', 'tenants[0].ipAllowList[1]', 'tenants[1].id'],
    'the proxy also finds the duplicate tenant id and the unknown tenant, which no schema can');
});

t.test('beyond the schema: only the proxy refuses these (documented in the README)', async (t) => {
  const cases: ReadonlyArray<readonly [string, () => string[], () => string[]]> = [
    ['a duration past the largest safe integer', () => proxyConfigProblems({ idempotency: { ttl: '999999999999d' } }), () => configSchema({ idempotency: { ttl: '999999999999d' } })],
    ['idempotency.redis.caFile without TLS', () => proxyConfigProblems({ idempotency: { redis: { cluster: ['x:1'], caFile: 'ca.pem' } } }), () => configSchema({ idempotency: { redis: { cluster: ['x:1'], caFile: 'ca.pem' } } })],
    ['a port above 65535', () => proxyConfigProblems({ listen: '0.0.0.0:70000' }), () => configSchema({ listen: '0.0.0.0:70000' })],
    ['IPv6 syntax', () => proxyConfigProblems({ trustedProxies: ['1:2:3'] }), () => configSchema({ trustedProxies: ['1:2:3'] })],
    ['an unset ${VAR}', () => proxyConfigProblems({ upstream: { url: '${CP_UNSET}' } }), () => configSchema({ upstream: { url: '${CP_UNSET}' } })],
    ['a ${VAR} holding a bad value', () => proxyConfigProblems({ logging: { level: '${CP_N}' } }), () => configSchema({ logging: { level: '${CP_N}' } })],
    ['a day that does not exist', () => proxyCredentialsProblems(CREDS({ key: { expiresAt: '2026-02-30' } })), () => credentialsSchema(CREDS({ key: { expiresAt: '2026-02-30' } }))],
  ];
  for (const [name, proxy, schema] of cases) {
    t.not(proxy().length, 0, `${name}: the proxy refuses it`);
    t.same(schema(), [], `${name}: the schema cannot tell`);
  }
});

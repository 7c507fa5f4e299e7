// `idempotency.redis` topologies (SPEC §3, §9 rev 2): one server (url, the default), Sentinel
// (sentinels + name) or Cluster (cluster), exactly one of them; `waitReplicas` an integer ≥ 0,
// default 0. Problems name the path and the value, and a topology conflict is reported along with
// any other problem of the section.
import t, { type Test } from 'tap';
import path from 'node:path';
import { buildConfig, type ProxyConfig } from '../../../src/config/load.js';
import { ProblemsError } from '../../../src/config/problems.js';

const FILE = path.resolve('/etc/custody-proxy/custody-proxy.yaml');
const build = (redis: unknown): ProxyConfig => buildConfig({ idempotency: { store: 'redis', redis } }, FILE, {});

function problemsOf(t: Test, redis: unknown): readonly string[] {
  try {
    build(redis);
  } catch (err) {
    if (err instanceof ProblemsError) return err.problems;
    throw err;
  }
  t.fail(`accepted ${JSON.stringify(redis)}`);
  return [];
}

function problemAt(t: Test, problems: readonly string[], at: string): string {
  const lines = problems.filter((p) => p.startsWith(`${at}: `));
  t.equal(lines.length, 1, `one problem at ${at} in ${JSON.stringify(problems)}`);
  return lines[0] ?? '';
}

t.test('one server: url, with its default when no topology is given', async (t) => {
  t.same(build({}).idempotency.redis, { url: 'redis://127.0.0.1:6379', keyPrefix: 'custody-proxy:', waitReplicas: 0 });
  t.same(build({ url: 'rediss://:pw@redis.internal:6380', keyPrefix: 'p:', waitReplicas: 2 }).idempotency.redis, {
    url: 'rediss://:pw@redis.internal:6380',
    keyPrefix: 'p:',
    waitReplicas: 2,
  });
});

t.test('Sentinel: sentinels as host:port and the master name; no url', async (t) => {
  const r = build({ sentinels: ['10.0.0.5:26379', '[fd00::7]:26380', 'sentinel-2.redis:26379'], name: 'mymaster', waitReplicas: 1 }).idempotency.redis;
  t.same(r, {
    sentinels: [{ host: '10.0.0.5', port: 26379 }, { host: 'fd00::7', port: 26380 }, { host: 'sentinel-2.redis', port: 26379 }],
    name: 'mymaster',
    keyPrefix: 'custody-proxy:',
    waitReplicas: 1,
  });
  t.notOk('url' in r, 'the default url is not kept beside the sentinels');
});

t.test('Cluster: startup nodes as host:port; no url', async (t) => {
  const r = build({ cluster: ['10.0.0.5:6379', '10.0.0.6:6379'], keyPrefix: 'x:' }).idempotency.redis;
  t.same(r, { cluster: [{ host: '10.0.0.5', port: 6379 }, { host: '10.0.0.6', port: 6379 }], keyPrefix: 'x:', waitReplicas: 0 });
});

t.test('more than one topology is a problem naming them', async (t) => {
  for (const [redis, named] of [
    [{ url: 'redis://a:6379', sentinels: ['a:26379'], name: 'm' }, 'url and sentinels'],
    [{ url: 'redis://a:6379', cluster: ['a:6379'] }, 'url and cluster'],
    [{ sentinels: ['a:26379'], name: 'm', cluster: ['a:6379'] }, 'sentinels and cluster'],
  ] as const) {
    t.match(problemAt(t, problemsOf(t, redis), 'idempotency.redis'), named);
  }
});

t.test('name goes with sentinels, both ways', async (t) => {
  t.match(problemAt(t, problemsOf(t, { sentinels: ['a:26379'] }), 'idempotency.redis.name'), /required with sentinels/);
  t.match(problemAt(t, problemsOf(t, { name: 'mymaster' }), 'idempotency.redis.name'), /only used with sentinels.*"mymaster"/);
  t.match(problemAt(t, problemsOf(t, { url: 'redis://a:6379', name: 'mymaster' }), 'idempotency.redis.name'), /"mymaster"/);
  problemAt(t, problemsOf(t, { sentinels: ['a:26379'], name: '' }), 'idempotency.redis.name');
});

t.test('bad nodes name their index and value', async (t) => {
  for (const [redis, at, value] of [
    [{ sentinels: ['10.0.0.5'], name: 'm' }, 'idempotency.redis.sentinels[0]', '10.0.0.5'],
    [{ sentinels: ['a:26379', 'b:0'], name: 'm' }, 'idempotency.redis.sentinels[1]', 'b:0'],
    [{ cluster: ['a:6379', 'redis://b:6379'] }, 'idempotency.redis.cluster[1]', 'redis://b:6379'],
    [{ cluster: ['a:70000'] }, 'idempotency.redis.cluster[0]', 'a:70000'],
  ] as const) {
    t.match(problemAt(t, problemsOf(t, redis), at), `"${value}"`, `${at}: ${value}`);
  }
  problemAt(t, problemsOf(t, { cluster: [] }), 'idempotency.redis.cluster');
  problemAt(t, problemsOf(t, { sentinels: [], name: 'm' }), 'idempotency.redis.sentinels');
  problemAt(t, problemsOf(t, { cluster: 'a:6379' }), 'idempotency.redis.cluster');
});

t.test('waitReplicas is an integer of at least 0', async (t) => {
  for (const bad of [-1, 1.5, '1', true]) {
    t.match(problemAt(t, problemsOf(t, { waitReplicas: bad }), 'idempotency.redis.waitReplicas'), JSON.stringify(bad), `${JSON.stringify(bad)}`);
  }
  t.equal(build({ waitReplicas: 0 }).idempotency.redis.waitReplicas, 0);
});

t.test('a topology conflict is listed along with the section\'s other problems', async (t) => {
  const problems = problemsOf(t, { url: 'http://a:6379', cluster: ['a'], waitReplicas: -2, keyprefix: 'x' });
  problemAt(t, problems, 'idempotency.redis');
  problemAt(t, problems, 'idempotency.redis.url');
  problemAt(t, problems, 'idempotency.redis.cluster[0]');
  problemAt(t, problems, 'idempotency.redis.waitReplicas');
  problemAt(t, problems, 'idempotency.redis.keyprefix');
});

t.test('the topology section is frozen like the rest', async (t) => {
  const r = build({ cluster: ['a:6379'] }).idempotency.redis;
  t.ok(Object.isFrozen(r));
  t.ok('cluster' in r && Object.isFrozen(r.cluster) && Object.isFrozen(r.cluster[0]));
});

t.test('Sentinel and Cluster take a login and TLS; only what was given is kept', async (t) => {
  const env = { REDIS_PW: 's3cret-pw', SENTINEL_PW: 'sentinel-pw' };
  const sentinel = buildConfig({ idempotency: { store: 'redis', redis: {
    sentinels: ['a:26379'], name: 'm', username: 'proxy', password: '${REDIS_PW}', sentinelUsername: 'watch', sentinelPassword: '${SENTINEL_PW}', tls: true, caFile: 'certs/redis-ca.pem',
  } } }, FILE, env).idempotency.redis;
  t.same(sentinel, {
    sentinels: [{ host: 'a', port: 26379 }], name: 'm', username: 'proxy', password: 's3cret-pw', sentinelUsername: 'watch', sentinelPassword: 'sentinel-pw',
    tls: true, caFile: path.resolve('/etc/custody-proxy/certs/redis-ca.pem'), keyPrefix: 'custody-proxy:', waitReplicas: 0,
  }, 'caFile is resolved from the config file\'s folder');
  t.same(build({ cluster: ['a:6379'], password: 'pw', tls: false }).idempotency.redis, { cluster: [{ host: 'a', port: 6379 }], password: 'pw', keyPrefix: 'custody-proxy:', waitReplicas: 0 }, 'tls: false is the default and is not kept');
  t.same(build({ url: 'rediss://:pw@r:6380', caFile: '/ca.pem' }).idempotency.redis, { url: 'rediss://:pw@r:6380', caFile: '/ca.pem', keyPrefix: 'custody-proxy:', waitReplicas: 0 }, 'a rediss:// url takes a caFile');
});

t.test('one server: the login and TLS keys are errors that say they go in the url', async (t) => {
  for (const redis of [{ url: 'redis://a:6379' }, {}]) {
    const problems = problemsOf(t, { ...redis, username: 'u', password: 'pw', tls: true });
    t.match(problemAt(t, problems, 'idempotency.redis.username'), /only with sentinels or cluster.*redis:\/\/user:password@/);
    t.match(problemAt(t, problems, 'idempotency.redis.password'), /only with sentinels or cluster.*in the url/);
    t.match(problemAt(t, problems, 'idempotency.redis.tls'), /rediss:\/\//);
  }
  t.match(problemAt(t, problemsOf(t, { url: 'redis://a:6379', sentinelPassword: 'pw' }), 'idempotency.redis.sentinelPassword'), /only with sentinels/);
  t.match(problemAt(t, problemsOf(t, { cluster: ['a:6379'], sentinelUsername: 'u', sentinelPassword: 'pw' }), 'idempotency.redis.sentinelUsername'), /only with sentinels/);
});

t.test('a user needs its password; caFile needs TLS', async (t) => {
  t.match(problemAt(t, problemsOf(t, { cluster: ['a:6379'], username: 'u' }), 'idempotency.redis.password'), /required with username/);
  t.match(problemAt(t, problemsOf(t, { sentinels: ['a:1'], name: 'm', password: 'p', sentinelUsername: 'u' }), 'idempotency.redis.sentinelPassword'), /required with sentinelUsername/);
  for (const redis of [{ cluster: ['a:6379'], caFile: 'ca.pem' }, { sentinels: ['a:1'], name: 'm', tls: false, caFile: 'ca.pem' }, { url: 'redis://a:6379', caFile: 'ca.pem' }, { caFile: 'ca.pem' }]) {
    t.match(problemAt(t, problemsOf(t, redis), 'idempotency.redis.caFile'), /only used with TLS/, JSON.stringify(redis));
  }
});

t.test('no problem shows a password, whatever is wrong with it', async (t) => {
  const secret = 'hunter2-secret';
  const cases: unknown[] = [
    { url: `redis://:${secret}@a:6379`, password: secret, sentinelPassword: secret, caFile: 'x' },
    { url: `http://:${secret}@a:6379` },
    { cluster: ['a:6379'], password: 12345, sentinelPassword: [secret] },
    { sentinels: ['a:1'], name: 'm', password: '', sentinelPassword: true },
  ];
  for (const redis of cases) {
    const problems = problemsOf(t, redis);
    t.ok(problems.length > 0, `refused: ${problems.join(' | ')}`);
    t.notOk(problems.some((p) => p.includes(secret) || p.includes('12345')), 'no password in the problems');
  }
});

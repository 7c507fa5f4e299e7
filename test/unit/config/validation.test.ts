// Proxy config validation (SPEC §3): bad durations, sizes, listen addresses, URLs, CIDRs and unknown
// keys become ProblemsError problems `path: message` naming the path and the bad value; every problem of
// a document is reported at once; ${VAR} substitution; relative paths anchored at the config's folder;
// YAML syntax errors with a line number; the returned config is deeply frozen.
import t, { type Test } from 'tap';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildConfig, loadConfig, type ProxyConfig } from '../../../src/config/load.js';
import { ProblemsError } from '../../../src/config/problems.js';

const FILE = path.resolve('/srv/cp/conf/custody-proxy.yaml');

/** The problems of a document that must be rejected (fails the test when it is accepted). */
function problemsOf(t: Test, raw: unknown, env: NodeJS.ProcessEnv = {}): readonly string[] {
  try {
    buildConfig(raw, FILE, env);
  } catch (err) {
    t.ok(err instanceof ProblemsError, 'throws a ProblemsError');
    if (err instanceof ProblemsError) return err.problems;
    throw err;
  }
  t.fail(`accepted an invalid config: ${JSON.stringify(raw)}`);
  return [];
}

/** Exactly one problem line starts with `${path}: `; returns it. */
function problemAt(t: Test, problems: readonly string[], at: string): string {
  const lines = problems.filter((p) => p.startsWith(`${at}: `));
  t.equal(lines.length, 1, `one problem at ${at} in ${JSON.stringify(problems)}`);
  return lines[0] ?? '';
}

function tempDir(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'custody-proxy-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('ProblemsError carries the file and `path: message` lines', async (t) => {
  let caught: unknown;
  try {
    buildConfig({ upstream: { timeout: '30x' } }, FILE, {});
  } catch (err) {
    caught = err;
  }
  t.ok(caught instanceof ProblemsError);
  if (!(caught instanceof ProblemsError)) return;
  t.equal(caught.name, 'ProblemsError');
  t.equal(caught.source, FILE);
  t.equal(caught.kind, 'config');
  t.equal(caught.problems.length, 1);
  t.match(caught.problems[0], /^upstream\.timeout: .*"30x"/);
  t.match(caught.message, 'upstream.timeout: ', 'the message lists the problems');
  t.match(caught.message, FILE, 'the message names the file');
});

t.test('bad durations name the path and the value', async (t) => {
  for (const [raw, at, value] of [
    [{ upstream: { timeout: '30x' } }, 'upstream.timeout', '30x'],
    [{ upstream: { connectTimeout: '5 s' } }, 'upstream.connectTimeout', '5 s'],
    [{ idempotency: { ttl: '1w' } }, 'idempotency.ttl', '1w'],
    [{ shutdownTimeout: '25' } , 'shutdownTimeout', '25'],
    [{ shutdownTimeout: '-5s' }, 'shutdownTimeout', '-5s'],
    [{ shutdownTimeout: '1.5s' }, 'shutdownTimeout', '1.5s'],
    [{ drainDelay: '5' }, 'drainDelay', '5'],
    [{ drainDelay: '-1s' }, 'drainDelay', '-1s'],
    [{ credentials: { expiryWarning: '7 days' } }, 'credentials.expiryWarning', '7 days'],
    [{ credentials: { maxAge: '90' } }, 'credentials.maxAge', '90'],
  ] as const) {
    const line = problemAt(t, problemsOf(t, raw), at);
    t.match(line, `"${value}"`, `${at} quotes the bad value ${value}`);
  }
  problemAt(t, problemsOf(t, { upstream: { timeout: '0s' } }), 'upstream.timeout');
  problemAt(t, problemsOf(t, { credentials: { maxAge: '0d' } }), 'credentials.maxAge');
  problemAt(t, problemsOf(t, { upstream: { timeout: 30 } }), 'upstream.timeout');
  problemAt(t, problemsOf(t, { drainDelay: 5 }), 'drainDelay');
});

t.test('bad sizes name the path and the value', async (t) => {
  for (const [raw, at, value] of [
    [{ idempotency: { maxRequestBytes: '1MB' } }, 'idempotency.maxRequestBytes', '1MB'],
    [{ idempotency: { maxResponseBytes: '1 MiB' } }, 'idempotency.maxResponseBytes', '1 MiB'],
    [{ idempotency: { maxResponseBytes: 'lots' } }, 'idempotency.maxResponseBytes', 'lots'],
    [{ idempotency: { maxRequestBytes: '0KiB' } }, 'idempotency.maxRequestBytes', '0KiB'],
  ] as const) {
    t.match(problemAt(t, problemsOf(t, raw), at), `"${value}"`, `${at}: ${value}`);
  }
});

t.test('bad listen addresses name the path and the value', async (t) => {
  for (const [raw, at, value] of [
    [{ listen: '8080' }, 'listen', '8080'],
    [{ listen: 'localhost:99999' }, 'listen', 'localhost:99999'],
    [{ listen: '::1:8080' }, 'listen', '::1:8080'],
    [{ listen: '0.0.0.0:' }, 'listen', '0.0.0.0:'],
    [{ admin: { listen: 'nope' } }, 'admin.listen', 'nope'],
  ] as const) {
    t.match(problemAt(t, problemsOf(t, raw), at), `"${value}"`, `${at}: ${value}`);
  }
});

t.test('bad URLs name the path and the value', async (t) => {
  for (const [raw, at, value] of [
    [{ upstream: { url: 'ftp://127.0.0.1/' } }, 'upstream.url', 'ftp://127.0.0.1/'],
    [{ upstream: { url: 'not a url' } }, 'upstream.url', 'not a url'],
    [{ upstream: { url: 'http://127.0.0.1:3000/?debug=1' } }, 'upstream.url', 'http://127.0.0.1:3000/?debug=1'],
    [{ credentials: { url: 'file:///etc/creds.yaml' } }, 'credentials.url', 'file:///etc/creds.yaml'],
  ] as const) {
    t.match(problemAt(t, problemsOf(t, raw), at), value, `${at}: ${value}`);
  }
  problemAt(t, problemsOf(t, { idempotency: { redis: { url: 'http://127.0.0.1:6379' } } }), 'idempotency.redis.url');
});

t.test('other bad values', async (t) => {
  t.match(problemAt(t, problemsOf(t, { idempotency: { store: 'disk' } }), 'idempotency.store'), 'disk');
  t.match(problemAt(t, problemsOf(t, { logging: { level: 'loud' } }), 'logging.level'), 'loud');
  problemAt(t, problemsOf(t, { idempotency: { required: 'yes' } }), 'idempotency.required');
  problemAt(t, problemsOf(t, { idempotency: { methods: ['post'] } }), 'idempotency.methods[0]');
  t.match(problemAt(t, problemsOf(t, { environment: 'prod' }), 'environment'), /"live".*"test".*"any".*"prod"/, 'names the choices and the value');
  t.match(problemAt(t, problemsOf(t, { browserRequests: true }), 'browserRequests'), /"refuse".*"allow"/);
});

t.test('unknown keys are errors, at the top level and nested', async (t) => {
  t.same(problemsOf(t, { listn: '0.0.0.0:8080' }), ['listn: unknown key']);
  t.same(problemsOf(t, { upstream: { tiemout: '30s' } }), ['upstream.tiemout: unknown key']);
  t.same(problemsOf(t, { idempotency: { redis: { keyprefix: 'x' } } }), ['idempotency.redis.keyprefix: unknown key']);
  t.same(problemsOf(t, { admin: { token: 'x' } }), ['admin.token: unknown key']);
  t.same(problemsOf(t, { credentials: { path: 'c.yaml' } }), ['credentials.path: unknown key']);
  t.same(problemsOf(t, { logging: { level: 'info', pretty: true } }), ['logging.pretty: unknown key']);
});

t.test('invalid trustedProxies entries are problems with their index and value', async (t) => {
  const problems = problemsOf(t, { trustedProxies: ['10.0.0.0/8', '10.0.0.0/33', '010.0.0.1', 'proxy.internal'] });
  t.equal(problems.length, 3, JSON.stringify(problems));
  t.match(problemAt(t, problems, 'trustedProxies[1]'), '10.0.0.0/33');
  t.match(problemAt(t, problems, 'trustedProxies[2]'), '010.0.0.1');
  t.match(problemAt(t, problems, 'trustedProxies[3]'), 'proxy.internal');
  t.equal(problems.filter((p) => p.startsWith('trustedProxies[0]')).length, 0, 'the valid entry is not a problem');
});

t.test('credentials.file and credentials.url together are a problem', async (t) => {
  const problems = problemsOf(t, { credentials: { file: 'credentials.yaml', url: 'https://cp.internal/credentials' } });
  t.equal(problems.length, 1, JSON.stringify(problems));
  t.match(problems[0], /^credentials(\.file|\.url)?: /);
  t.match(problems[0], /file/);
  t.match(problems[0], /url/);
});

t.test('with credentials.url there is no credentials file', async (t) => {
  const c = buildConfig({ credentials: { url: 'https://cp.internal/credentials' } }, FILE, {});
  t.equal(c.credentials.file, undefined);
  t.equal(c.credentials.url?.href, 'https://cp.internal/credentials');
  t.equal(c.credentials.pollInterval, 10_000, 'pollInterval default 10s');
});

t.test('several problems in one document are all reported in one error', async (t) => {
  const problems = problemsOf(t, {
    listen: 'nowhere',
    admin: { listen: '0.0.0.0:70000' },
    upstream: { url: 'ftp://x', timeout: '30x', tiemout: '1s' },
    trustedProxies: ['1.2.3'],
    idempotency: { maxRequestBytes: '1MB', ttl: 'forever' },
    bogus: true,
  });
  for (const at of [
    'listen',
    'admin.listen',
    'upstream.url',
    'upstream.timeout',
    'upstream.tiemout',
    'trustedProxies[0]',
    'idempotency.maxRequestBytes',
    'idempotency.ttl',
    'bogus',
  ]) {
    problemAt(t, problems, at);
  }
  t.equal(problems.length, 9, JSON.stringify(problems));
});

t.test('file+url conflict is reported along with another problem in the credentials section', async (t) => {
  // The conflict is a whole-section rule; a bad sibling value must not hide it.
  const problems = problemsOf(t, {
    credentials: { file: 'credentials.yaml', url: 'https://cp.internal/credentials', pollInterval: 'often' },
  });
  problemAt(t, problems, 'credentials.pollInterval');
  t.ok(
    problems.some((p) => /^credentials(\.file|\.url)?: .*both/.test(p) || /^credentials: /.test(p)),
    `the file/url conflict is listed too: ${JSON.stringify(problems)}`,
  );
});

t.test('${VAR} substitution from the env argument', async (t) => {
  const env = { UPSTREAM_HOST: 'custody.internal', UPSTREAM_PORT: '8443', LEVEL: 'debug' };
  const c = buildConfig(
    { upstream: { url: 'https://${UPSTREAM_HOST}:${UPSTREAM_PORT}/api' }, logging: { level: '${LEVEL}' } },
    FILE,
    env,
  );
  t.equal(c.upstream.url.href, 'https://custody.internal:8443/api', 'several variables inside one string');
  t.equal(c.logging.level, 'debug');
  const d = buildConfig({ trustedProxies: ['${LB_CIDR}'] }, FILE, { LB_CIDR: '10.9.0.0/16' });
  t.same(d.trustedProxies, ['10.9.0.0/16'], 'inside arrays');
});

t.test('an unset variable is a problem naming the path and the variable', async (t) => {
  const problems = problemsOf(t, { upstream: { url: 'http://${CP_TEST_UNSET_HOST}:3000' } });
  const named = problems.filter((p) => p.startsWith('upstream.url: ') && p.includes('CP_TEST_UNSET_HOST'));
  t.equal(named.length, 1, JSON.stringify(problems));
  const nested = problemsOf(t, { trustedProxies: ['10.0.0.0/8', '${CP_TEST_UNSET_CIDR}'] });
  t.ok(nested.some((p) => p.startsWith('trustedProxies[1]: ') && p.includes('CP_TEST_UNSET_CIDR')), JSON.stringify(nested));
});

t.test('variables come from the env argument, not process.env', async (t) => {
  const name = 'CP_TEST_ONLY_IN_PROCESS_ENV';
  process.env[name] = 'debug';
  t.teardown(() => {
    delete process.env[name];
  });
  const problems = problemsOf(t, { logging: { level: `\${${name}}` } }, {});
  t.ok(problems.some((p) => p.startsWith('logging.level: ') && p.includes(name)), JSON.stringify(problems));
});

t.test('relative credentials.file and tokenFiles resolve from the config file folder, not the cwd', async (t) => {
  const dir = tempDir(t);
  const confDir = path.join(dir, 'etc', 'cp');
  mkdirSync(confDir, { recursive: true });
  const file = path.join(confDir, 'custody-proxy.yaml');
  writeFileSync(
    file,
    [
      'admin:',
      '  listen: 127.0.0.1:0',
      '  tokenFile: secrets/admin-token',
      'credentials:',
      '  file: creds/credentials.yaml',
      '',
    ].join('\n'),
  );
  const c = loadConfig(file, {});
  t.equal(c.credentials.file, path.join(confDir, 'creds', 'credentials.yaml'));
  t.not(c.credentials.file, path.resolve(process.cwd(), 'creds/credentials.yaml'));
  t.equal(c.admin.tokenFile, path.join(confDir, 'secrets', 'admin-token'));
  t.equal(c.configFile, file);

  writeFileSync(file, 'credentials:\n  url: https://cp.internal/credentials\n  tokenFile: ../tokens/control\n');
  const u = loadConfig(file, {});
  t.equal(u.credentials.tokenFile, path.join(dir, 'etc', 'tokens', 'control'), 'credentials.tokenFile');

  writeFileSync(file, 'credentials:\n  file: /abs/credentials.yaml\n');
  t.equal(loadConfig(file, {}).credentials.file, path.resolve('/abs/credentials.yaml'), 'absolute paths stay');

  writeFileSync(file, '');
  t.equal(loadConfig(file, {}).credentials.file, path.join(confDir, 'credentials.yaml'), 'the default file too');

  // A relative config path is resolved from the cwd, then its folder anchors credentials.file.
  const rel = path.relative(process.cwd(), file);
  const r = loadConfig(rel, {});
  t.equal(r.configFile, file);
  t.equal(r.credentials.file, path.join(confDir, 'credentials.yaml'));
});

t.test('loadConfig reads YAML, substitutes env and validates', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'custody-proxy.yaml');
  writeFileSync(file, 'listen: 127.0.0.1:${PORT}\nupstream: { url: "${UP}", timeout: 500ms }\n');
  const c = loadConfig(file, { PORT: '8081', UP: 'http://10.0.0.5:3000' });
  t.same(c.listen, { host: '127.0.0.1', port: 8081 });
  t.equal(c.upstream.url.origin, 'http://10.0.0.5:3000');
  t.equal(c.upstream.timeout, 500);
});

t.test('loadConfig: a missing file is a ProblemsError', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'absent.yaml');
  t.throws(() => loadConfig(file, {}), ProblemsError);
  try {
    loadConfig(file, {});
  } catch (err) {
    t.ok(err instanceof ProblemsError && err.problems.length === 1 && err.problems[0]?.includes('absent.yaml'));
  }
});

t.test('a YAML syntax error is a problem with its line number', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'custody-proxy.yaml');
  writeFileSync(file, 'listen: 127.0.0.1:8080\nupstream:\n  url: http://127.0.0.1:3000\n  timeout: [30s\nlogging: { level: info }\n');
  let problems: readonly string[] = [];
  try {
    loadConfig(file, {});
    t.fail('accepted a YAML syntax error');
  } catch (err) {
    t.ok(err instanceof ProblemsError);
    if (err instanceof ProblemsError) problems = err.problems;
  }
  t.ok(problems.length >= 1, 'at least one problem');
  t.ok(
    problems.some((p) => /\bline \d+/.test(p)),
    `a problem names the line: ${JSON.stringify(problems)}`,
  );
});

t.test('a duplicate key in the YAML is a problem', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'custody-proxy.yaml');
  writeFileSync(file, 'listen: 127.0.0.1:8080\nlisten: 127.0.0.1:8081\n');
  t.throws(() => loadConfig(file, {}), ProblemsError);
});

t.test('the returned config is deeply frozen', async (t) => {
  const c: ProxyConfig = buildConfig({ trustedProxies: ['10.0.0.0/8'] }, FILE, {});
  t.ok(Object.isFrozen(c), 'top level');
  const parts: Record<string, unknown> = {
    listen: c.listen,
    admin: c.admin,
    'admin.listen': c.admin.listen,
    upstream: c.upstream,
    credentials: c.credentials,
    idempotency: c.idempotency,
    'idempotency.redis': c.idempotency.redis,
    'idempotency.methods': c.idempotency.methods,
    logging: c.logging,
    trustedProxies: c.trustedProxies,
  };
  for (const [name, part] of Object.entries(parts)) t.ok(Object.isFrozen(part), `${name} is frozen`);
  t.throws(() => {
    (c as { shutdownTimeout: number }).shutdownTimeout = 1;
  }, TypeError);
  t.throws(() => {
    (c.idempotency.methods as string[]).push('DELETE');
  }, TypeError);
  t.throws(() => {
    (c.upstream as { timeout: number }).timeout = 1;
  }, TypeError);
  t.equal(c.shutdownTimeout, 25_000);
});

// The Helm chart (helm/custody-proxy), validated as far as a machine without helm allows: the
// templates are rendered offline by test/packaging/render (Helm's engine: text/template + sprig, built
// from Debian's Go packages), every rendered object is validated against the Kubernetes schemas
// (kubernetes-models), the values against values.schema.json (ajv), and the chart's promises are
// checked on the rendered objects, including that the ConfigMap holds a config the proxy accepts.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { Ajv } from 'ajv';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1';
import { ConfigMap, Service, type IConfigMap, type IService } from 'kubernetes-models/v1';
import { buildConfig } from '../../src/config/load.js';
import { ProblemsError } from '../../src/config/problems.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const chart = path.join(root, 'helm/custody-proxy');
const goEnv = { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOFLAGS: '' };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const go = spawnSync('go', ['version'], { encoding: 'utf8' });
if (go.error !== undefined || go.status !== 0) {
  if (process.env['CI'] === 'true') t.fail('go is not installed: .ci/run installs golang-go, golang-github-masterminds-sprig-dev and golang-gopkg-yaml.v3-dev');
  else t.comment('skipped: go is not installed (apt-get install golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev)');
} else {
  main();
}

function main(): void {
  const dir = mkdtempSync(path.join(tmpdir(), 'helm-render-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bin = path.join(dir, 'render');
  const build = spawnSync('go', ['build', '-o', bin, './test/packaging/render'], { cwd: root, env: goEnv, encoding: 'utf8', timeout: 120_000 });
  if (build.status !== 0) {
    t.fail(`go build ./test/packaging/render failed: ${build.stderr}${build.error?.message ?? ''}`);
    return;
  }

  const overridesFile = path.join(dir, 'overrides.yaml');
  const overrides = {
    redis: { existingSecret: 'custody-proxy-redis', secretKey: 'url' },
    adminToken: { existingSecret: 'custody-proxy-admin', secretKey: 'token' },
    metrics: { serviceMonitor: { enabled: true, interval: '15s', labels: { release: 'prometheus' } } },
  };
  writeFileSync(overridesFile, JSON.stringify(overrides));

  const render = (extra: string[]): Obj[] => {
    const r = spawnSync(bin, [chart, ...extra], { encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) throw new Error(`render failed: ${r.stderr}`);
    return parseAllDocuments(r.stdout).map((d) => {
      if (d.errors.length > 0) throw new Error(`rendered YAML is invalid: ${d.errors.map((e) => e.message).join('; ')}`);
      const js: unknown = d.toJS();
      if (!isObj(js)) throw new Error(`rendered document is not an object: ${String(js)}`);
      return js;
    });
  };

  t.test('values.yaml and the overrides validate against values.schema.json; bad values do not', async (t) => {
    const schema: unknown = JSON.parse(readFileSync(path.join(chart, 'values.schema.json'), 'utf8'));
    if (!isObj(schema)) throw new Error('values.schema.json is not an object');
    // Helm ignores $schema; ajv only knows the draft-07 meta-schema under its http:// id.
    const { $schema: _meta, ...body } = schema;
    const validate = new Ajv({ allErrors: true, strict: false }).compile(body);
    const values: unknown = parse(readFileSync(path.join(chart, 'values.yaml'), 'utf8'));
    if (!isObj(values)) throw new Error('values.yaml is not an object');
    t.ok(validate(values), `values.yaml: ${JSON.stringify(validate.errors)}`);
    const merged = { ...values, ...overrides, metrics: { ...(values['metrics'] as Obj), ...overrides.metrics } };
    t.ok(validate(merged), `values.yaml + overrides: ${JSON.stringify(validate.errors)}`);
    t.notOk(validate({ ...values, replicaCount: 0 }), 'replicaCount: 0 is rejected');
    t.notOk(validate({ ...values, replicas: 3 }), 'an unknown top-level key is rejected');
    t.notOk(validate({ ...values, proxy: { ...(values['proxy'] as Obj), adminPort: 70000 } }), 'a port out of range is rejected');
    t.notOk(validate({ ...values, credentials: { existingSecret: '', key: 'credentials.yaml' } }), 'an empty credentials secret is rejected');
  });

  for (const [label, extra] of [['default values', []], ['redis secret, admin token, serviceMonitor', [overridesFile]]] as const) {
    t.test(label, async (t) => {
      const docs = render([...extra]);
      const withOverrides = extra.length > 0;
      const kinds = docs.map((d) => d['kind']);
      t.same([...kinds].sort(), withOverrides ? ['ConfigMap', 'Deployment', 'Service', 'ServiceMonitor'] : ['ConfigMap', 'Deployment', 'Service']);
      const one = (kind: string): Obj => {
        const d = docs.find((x) => x['kind'] === kind);
        if (d === undefined) throw new Error(`no ${kind} rendered`);
        return d;
      };

      // Kubernetes schemas: validate() throws on any violation.
      const cm = new ConfigMap(one('ConfigMap') as unknown as IConfigMap);
      const svc = new Service(one('Service') as unknown as IService);
      const dep = new Deployment(one('Deployment') as unknown as IDeployment);
      for (const m of [cm, svc, dep]) t.doesNotThrow(() => m.validate(), `${m.kind} validates against the Kubernetes schema`);

      const pod = dep.spec?.template;
      const containers = pod?.spec?.containers ?? [];
      const proxy = containers.find((c) => c.name === 'custody-proxy');
      const app = containers.find((c) => c.name === 'custody-service');
      if (proxy === undefined || app === undefined || pod?.spec === undefined) throw new Error('both containers expected');

      t.test('the Service exposes the proxy, never the custody service', async (t) => {
        const ports = svc.spec?.ports ?? [];
        t.equal(ports.find((p) => p.name === 'http')?.targetPort, 'proxy', 'http targets the proxy port');
        const proxyPort = proxy.ports?.find((p) => p.name === 'proxy')?.containerPort;
        t.equal(proxyPort, 8080);
        for (const p of ports) t.ok(p.targetPort === 'proxy' || p.targetPort === 'admin', `${p.name ?? ''} targets a proxy port`);
        t.same(app.ports ?? [], [], 'the custody service declares no port');
        t.same(svc.spec?.selector, dep.spec?.selector.matchLabels, 'selector matches the pods');
      });

      t.test('credentials Secret mounted as a folder, no subPath anywhere', async (t) => {
        const mounts = containers.flatMap((c) => c.volumeMounts ?? []);
        t.ok(mounts.every((m) => m.subPath === undefined && m.subPathExpr === undefined), 'no subPath');
        const creds = proxy.volumeMounts?.find((m) => m.name === 'credentials');
        t.equal(creds?.mountPath, '/etc/custody-proxy/credentials');
        t.equal(pod.spec?.volumes?.find((v) => v.name === 'credentials')?.secret?.secretName, 'custody-proxy-credentials');
      });

      t.test('probes on the admin port; hardened security context; scrape and checksum annotations', async (t) => {
        t.same(proxy.livenessProbe?.httpGet, { path: '/healthz', port: 'admin' });
        t.same(proxy.readinessProbe?.httpGet, { path: '/readyz', port: 'admin' });
        t.equal(proxy.ports?.find((p) => p.name === 'admin')?.containerPort, 9090);
        t.equal(pod.spec?.securityContext?.runAsNonRoot, true, 'pod runAsNonRoot');
        for (const c of containers) {
          t.equal(c.securityContext?.readOnlyRootFilesystem, true, `${c.name} readOnlyRootFilesystem`);
          t.equal(c.securityContext?.allowPrivilegeEscalation, false, `${c.name} allowPrivilegeEscalation false`);
        }
        const ann = pod.metadata?.annotations ?? {};
        t.equal(ann['prometheus.io/scrape'], 'true');
        t.equal(ann['prometheus.io/port'], '9090');
        t.equal(ann['prometheus.io/path'], '/metrics');
        t.match(ann['checksum/config'], /^[0-9a-f]{64}$/, 'checksum/config is a sha256');
      });

      t.test('the ConfigMap holds a valid custody-proxy config matching the mounts', async (t) => {
        const text = cm.data?.['custody-proxy.yaml'];
        if (text === undefined) throw new Error('custody-proxy.yaml missing from the ConfigMap');
        const configDir = proxy.volumeMounts?.find((m) => m.name === 'config')?.mountPath ?? '';
        const file = path.posix.join(configDir, 'custody-proxy.yaml');
        t.same(proxy.args, ['--config', file], 'the proxy is started on the mounted config');
        const env = (proxy.env ?? []).map((e) => e.name);
        const redisEnv = text.includes('${CUSTODY_PROXY_REDIS_URL}');
        if (redisEnv) t.ok(env.includes('CUSTODY_PROXY_REDIS_URL'), 'the config reads CUSTODY_PROXY_REDIS_URL, so the pod sets it');
        let config;
        try {
          config = buildConfig(parse(text), file, { CUSTODY_PROXY_REDIS_URL: 'redis://:secret@redis:6379' });
        } catch (err) {
          t.fail(err instanceof ProblemsError ? err.message : String(err));
          return;
        }
        t.equal(config.credentials.file, '/etc/custody-proxy/credentials/credentials.yaml');
        t.equal(config.drainDelay, 5_000, 'drainDelay 5s from values.yaml');
        t.equal(config.credentials.expiryWarning, 7 * 86_400_000, 'credentials.expiryWarning 7d from values.yaml');
        t.equal(config.credentials.maxAge, 90 * 86_400_000, 'credentials.maxAge 90d from values.yaml');
        if (withOverrides) {
          const adminMount = proxy.volumeMounts?.find((m) => m.name === 'admin-token')?.mountPath;
          t.equal(config.admin.tokenFile, `${adminMount ?? '(unmounted)'}/token`, 'admin token file lies in the mounted Secret');
          t.equal(pod.spec?.volumes?.find((v) => v.name === 'admin-token')?.secret?.secretName, 'custody-proxy-admin');
          const redisRef = proxy.env?.find((e) => e.name === 'CUSTODY_PROXY_REDIS_URL')?.valueFrom?.secretKeyRef;
          t.same(redisRef, { name: 'custody-proxy-redis', key: 'url' });
        } else {
          t.equal(config.admin.tokenFile, undefined, 'no admin token by default');
        }
      });

      if (withOverrides) {
        t.test('ServiceMonitor scrapes /metrics on the admin Service port', async (t) => {
          const sm = one('ServiceMonitor');
          t.equal(sm['apiVersion'], 'monitoring.coreos.com/v1');
          const meta = sm['metadata'];
          const spec = sm['spec'];
          if (!isObj(meta) || !isObj(spec)) throw new Error('ServiceMonitor without metadata or spec');
          t.match(meta['labels'], { release: 'prometheus' });
          t.same(spec['selector'], { matchLabels: dep.spec?.selector.matchLabels });
          t.same(spec['endpoints'], [{ port: 'admin', path: '/metrics', interval: '15s' }]);
        });
      }
    });
  }

  t.test('store redis without a Redis secret fails to render; store memory renders a valid config', async (t) => {
    const noRedis = path.join(dir, 'no-redis.yaml');
    writeFileSync(noRedis, JSON.stringify({ redis: { existingSecret: '' } }));
    const r = spawnSync(bin, [chart, noRedis], { encoding: 'utf8', timeout: 30_000 });
    t.not(r.status, 0, 'render fails');
    t.match(r.stderr, /redis\.existingSecret is required/);
    const memory = path.join(dir, 'memory.yaml');
    writeFileSync(memory, JSON.stringify({ redis: { existingSecret: '' }, replicaCount: 1, proxy: { config: { idempotency: { store: 'memory' } } } }));
    const cm = render([memory]).find((d) => d['kind'] === 'ConfigMap') as unknown as IConfigMap | undefined;
    const text = cm?.data?.['custody-proxy.yaml'] ?? '';
    t.notMatch(text, /CUSTODY_PROXY_REDIS_URL/);
    t.doesNotThrow(() => buildConfig(parse(text), '/etc/custody-proxy/config/custody-proxy.yaml', {}), 'valid without any env');
  });

  t.test('Sentinel and Cluster topologies render without the Redis secret; waitReplicas is passed on', async (t) => {
    const configOf = (values: Obj): ReturnType<typeof buildConfig> => {
      const file = path.join(dir, 'topology.yaml');
      writeFileSync(file, JSON.stringify({ redis: { existingSecret: '' }, proxy: { config: { idempotency: values } } }));
      const cm = render([file]).find((d) => d['kind'] === 'ConfigMap') as unknown as IConfigMap | undefined;
      const text = cm?.data?.['custody-proxy.yaml'] ?? '';
      t.notMatch(text, /CUSTODY_PROXY_REDIS_URL/, 'no Redis URL from a Secret');
      return buildConfig(parse(text), '/etc/custody-proxy/config/custody-proxy.yaml', {});
    };
    const sentinel = configOf({ redis: { sentinels: ['sentinel-0.redis:26379', 'sentinel-1.redis:26379'], name: 'mymaster', waitReplicas: 1 } }).idempotency.redis;
    t.same(sentinel, {
      sentinels: [{ host: 'sentinel-0.redis', port: 26379 }, { host: 'sentinel-1.redis', port: 26379 }],
      name: 'mymaster',
      keyPrefix: 'custody-proxy:',
      waitReplicas: 1,
    });
    const cluster = configOf({ redis: { cluster: ['redis-0.redis:6379'] } }).idempotency.redis;
    t.same(cluster, { cluster: [{ host: 'redis-0.redis', port: 6379 }], keyPrefix: 'custody-proxy:', waitReplicas: 0 });
    for (const [values, message] of [
      [{ redis: { sentinels: ['s:26379'] } }, /name is required with sentinels/],
      [{ redis: { sentinels: ['s:26379'], name: 'm', cluster: ['c:6379'] } }, /not both/],
    ] as const) {
      const file = path.join(dir, 'bad-topology.yaml');
      writeFileSync(file, JSON.stringify({ proxy: { config: { idempotency: values } } }));
      const r = spawnSync(bin, [chart, file], { encoding: 'utf8', timeout: 30_000 });
      t.not(r.status, 0, 'render fails');
      t.match(r.stderr, message);
    }
    const schema: unknown = JSON.parse(readFileSync(path.join(chart, 'values.schema.json'), 'utf8'));
    if (!isObj(schema)) throw new Error('values.schema.json is not an object');
    const { $schema: _meta, ...body } = schema;
    const validate = new Ajv({ allErrors: true, strict: false }).compile(body);
    const values: unknown = parse(readFileSync(path.join(chart, 'values.yaml'), 'utf8'));
    if (!isObj(values) || !isObj(values['proxy'])) throw new Error('values.yaml has no proxy');
    const withRedis = (redis: Obj): Obj => {
      const proxy = values['proxy'] as Obj;
      const config = proxy['config'] as Obj;
      return { ...values, proxy: { ...proxy, config: { ...config, idempotency: { ...(config['idempotency'] as Obj), redis } } } };
    };
    t.ok(validate(withRedis({ sentinels: ['[fd00::1]:26379'], name: 'm', waitReplicas: 2 })), JSON.stringify(validate.errors));
    t.notOk(validate(withRedis({ waitReplicas: -1 })), 'waitReplicas below 0 is rejected');
    t.notOk(validate(withRedis({ cluster: ['redis://c:6379'] })), 'a node that is not host:port is rejected');
    t.notOk(validate(withRedis({ url: 'redis://c:6379' })), 'an unknown key is rejected');
  });

  t.test('proxy.config.drainDelay reaches the config, 0s included; a number is rejected', async (t) => {
    const file = path.join(dir, 'drain.yaml');
    writeFileSync(file, JSON.stringify({ redis: { existingSecret: '' }, replicaCount: 1, proxy: { config: { drainDelay: '0s', idempotency: { store: 'memory' } } } }));
    const cm = render([file]).find((d) => d['kind'] === 'ConfigMap') as unknown as IConfigMap | undefined;
    const config = buildConfig(parse(cm?.data?.['custody-proxy.yaml'] ?? ''), '/etc/custody-proxy/config/custody-proxy.yaml', {});
    t.equal(config.drainDelay, 0, 'drainDelay 0s: stop accepting at once');
    const schema: unknown = JSON.parse(readFileSync(path.join(chart, 'values.schema.json'), 'utf8'));
    if (!isObj(schema)) throw new Error('values.schema.json is not an object');
    const { $schema: _meta, ...body } = schema;
    const validate = new Ajv({ allErrors: true, strict: false }).compile(body);
    const values: unknown = parse(readFileSync(path.join(chart, 'values.yaml'), 'utf8'));
    if (!isObj(values) || !isObj(values['proxy'])) throw new Error('values.yaml has no proxy');
    const proxy = values['proxy'];
    const withDelay = (drainDelay: unknown): Obj => ({ ...values, proxy: { ...proxy, config: { ...(proxy['config'] as Obj), drainDelay } } });
    t.ok(validate(withDelay('0s')), JSON.stringify(validate.errors));
    t.notOk(validate(withDelay(5)), 'a bare number is rejected');
  });

  t.test('proxy.config.environment and browserRequests reach the config; other values are rejected', async (t) => {
    const configOf = (config: Obj): ReturnType<typeof buildConfig> => {
      const file = path.join(dir, 'policy.yaml');
      writeFileSync(file, JSON.stringify({ redis: { existingSecret: '' }, proxy: { config: { ...config, idempotency: { store: 'memory' } } } }));
      const cm = render([file]).find((d) => d['kind'] === 'ConfigMap') as unknown as IConfigMap | undefined;
      return buildConfig(parse(cm?.data?.['custody-proxy.yaml'] ?? ''), '/etc/custody-proxy/config/custody-proxy.yaml', {});
    };
    const defaults = configOf({});
    t.equal(defaults.environment, 'any', 'environment any by default');
    t.equal(defaults.browserRequests, 'refuse', 'browserRequests refuse by default');
    const pinned = configOf({ environment: 'live', browserRequests: 'allow' });
    t.equal(pinned.environment, 'live');
    t.equal(pinned.browserRequests, 'allow');
    const schema: unknown = JSON.parse(readFileSync(path.join(chart, 'values.schema.json'), 'utf8'));
    if (!isObj(schema)) throw new Error('values.schema.json is not an object');
    const { $schema: _meta, ...body } = schema;
    const validate = new Ajv({ allErrors: true, strict: false }).compile(body);
    const values: unknown = parse(readFileSync(path.join(chart, 'values.yaml'), 'utf8'));
    if (!isObj(values) || !isObj(values['proxy'])) throw new Error('values.yaml has no proxy');
    const proxy = values['proxy'];
    const withConfig = (extra: Obj): Obj => ({ ...values, proxy: { ...proxy, config: { ...(proxy['config'] as Obj), ...extra } } });
    t.ok(validate(withConfig({ environment: 'test', browserRequests: 'refuse' })), JSON.stringify(validate.errors));
    t.notOk(validate(withConfig({ environment: 'production' })), 'an unknown environment is rejected');
    t.notOk(validate(withConfig({ browserRequests: false })), 'a boolean browserRequests is rejected');
  });

  t.test('the config checksum follows the config', async (t) => {
    const checksum = (docs: Obj[]): unknown => {
      const dep = docs.find((d) => d['kind'] === 'Deployment') as unknown as IDeployment | undefined;
      return dep?.spec?.template.metadata?.annotations?.['checksum/config'];
    };
    t.not(checksum(render([])), checksum(render([overridesFile])), 'the admin token changes the config and its checksum');
  });
}

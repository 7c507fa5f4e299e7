// Every documented values combination of the chart renders, validates, and keeps its promise:
// Redis topologies, TLS, the native sidecar, the memory store on one replica, images and scheduling
// fields, the monitoring objects, and the chart as a subchart (global values, the sidecar templates
// in a parent chart's own Deployment: helm/examples/own-deployment).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import type { IConfigMap } from 'kubernetes-models/v1';
import { buildRenderer, validatedRender, configText, exampleDir, find, goAvailable, labelsOf, podOf, proxyConfig, selects, validateAll, type Obj } from '../helpers/helm-render.js';

const NO_REDIS_SECRET = { redis: { existingSecret: '' } };

if (goAvailable(t)) {
  const r = buildRenderer(t);
  const render = validatedRender(t, r);

  t.test('Sentinel and Cluster render without the Redis secret; waitReplicas is passed on', async (t) => {
    const redisOf = (redis: Obj): unknown => {
      const docs = render(NO_REDIS_SECRET, { proxy: { config: { idempotency: { redis } } } });
      t.notOk(podOf(docs).proxy.env?.some((e) => e.name === 'CUSTODY_PROXY_REDIS_URL'), 'no Redis URL from a Secret');
      return proxyConfig(docs, {}).idempotency.redis;
    };
    t.same(redisOf({ sentinels: ['sentinel-0.redis:26379', 'sentinel-1.redis:26379'], name: 'mymaster', waitReplicas: 1 }), {
      sentinels: [{ host: 'sentinel-0.redis', port: 26379 }, { host: 'sentinel-1.redis', port: 26379 }],
      name: 'mymaster',
      keyPrefix: 'custody-proxy:',
      waitReplicas: 1,
    });
    t.same(redisOf({ cluster: ['redis-0.redis:6379'] }), { cluster: [{ host: 'redis-0.redis', port: 6379 }], keyPrefix: 'custody-proxy:', waitReplicas: 0 });
  });

  t.test('Sentinel and Cluster passwords come from the redis Secret as ${VAR}, never into the ConfigMap; tls and users pass on', async (t) => {
    const secret = { redis: { existingSecret: 'redis-auth', passwordKey: 'password', sentinelPasswordKey: 'sentinel-password' } };
    const env = { CUSTODY_PROXY_REDIS_PASSWORD: 'data-pw', CUSTODY_PROXY_REDIS_SENTINEL_PASSWORD: 'sentinel-pw' };
    const envOf = (docs: Obj[]): Record<string, string | undefined> =>
      Object.fromEntries((podOf(docs).proxy.env ?? []).map((e) => [e.name, e.valueFrom?.secretKeyRef ? `${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}` : e.value]));
    const sentinel = render(secret, { proxy: { config: { idempotency: { redis: { sentinels: ['s-0.redis:26379'], name: 'mymaster', username: 'proxy', sentinelUsername: 'watch', tls: true } } } } });
    t.same(envOf(sentinel), { CUSTODY_PROXY_REDIS_PASSWORD: 'redis-auth/password', CUSTODY_PROXY_REDIS_SENTINEL_PASSWORD: 'redis-auth/sentinel-password' }, 'both passwords from the Secret, no URL');
    t.match(configText(sentinel), /password: "\$\{CUSTODY_PROXY_REDIS_PASSWORD\}"/, 'the ConfigMap names the variable');
    t.same(proxyConfig(sentinel, env).idempotency.redis, {
      sentinels: [{ host: 's-0.redis', port: 26379 }], name: 'mymaster', username: 'proxy', password: 'data-pw', sentinelUsername: 'watch', sentinelPassword: 'sentinel-pw',
      tls: true, keyPrefix: 'custody-proxy:', waitReplicas: 0,
    });
    const cluster = render(secret, { proxy: { config: { idempotency: { redis: { cluster: ['redis-0.redis:6379'], tls: true } } } } });
    t.same(envOf(cluster), { CUSTODY_PROXY_REDIS_PASSWORD: 'redis-auth/password' }, 'a Cluster has no sentinel password');
    t.same(proxyConfig(cluster, env).idempotency.redis, { cluster: [{ host: 'redis-0.redis', port: 6379 }], password: 'data-pw', tls: true, keyPrefix: 'custody-proxy:', waitReplicas: 0 });
    const withCa = render({ redis: { ...secret.redis, ca: { existingSecret: 'redis-ca', key: 'ca.pem' } } }, { proxy: { config: { idempotency: { redis: { cluster: ['redis-0.redis:6379'], tls: true } } } } });
    const pod = podOf(withCa);
    t.same(pod.proxy.volumeMounts?.find((m) => m.name === 'custody-proxy-redis-ca'), { name: 'custody-proxy-redis-ca', mountPath: '/etc/custody-proxy/redis-ca', readOnly: true }, 'the Redis CA as a folder');
    t.equal(pod.template.spec?.volumes?.find((v) => v.name === 'custody-proxy-redis-ca')?.secret?.secretName, 'redis-ca');
    t.match(proxyConfig(withCa, env).idempotency.redis, { tls: true, caFile: '/etc/custody-proxy/redis-ca/ca.pem' }, 'caFile in the config the proxy reads');
    t.notOk(podOf(cluster).template.spec?.volumes?.some((v) => v.name === 'custody-proxy-redis-ca'), 'no CA volume unless given');
    const noKey = render({ proxy: { config: { idempotency: { redis: { cluster: ['redis-0.redis:6379'] } } } } });
    t.same(envOf(noKey), {}, 'the default Secret without passwordKey: no password, as before');
  });

  t.test('TLS: the Secret mounted as a folder, its files in the config; probes stay on plain admin', async (t) => {
    const docs = render({ proxy: { tls: { existingSecret: 'proxy-tls', minVersion: 'TLSv1.3' }, upstreamCA: { configMap: 'trust-bundle', key: 'bundle.pem' }, config: { upstreamScheme: 'https' } } });
    const { template, proxy } = podOf(docs);
    const tlsMount = proxy.volumeMounts?.find((m) => m.name === 'custody-proxy-tls');
    t.same(tlsMount, { name: 'custody-proxy-tls', mountPath: '/etc/custody-proxy/tls', readOnly: true }, 'a folder, no subPath');
    t.equal(template.spec?.volumes?.find((v) => v.name === 'custody-proxy-tls')?.secret?.secretName, 'proxy-tls');
    t.equal(template.spec?.volumes?.find((v) => v.name === 'custody-proxy-upstream-ca')?.configMap?.name, 'trust-bundle');
    t.same(proxy.readinessProbe?.httpGet, { path: '/readyz', port: 'admin' });
    const raw = parse(configText(docs)) as Obj;
    t.same(raw['tls'], { certFile: '/etc/custody-proxy/tls/tls.crt', keyFile: '/etc/custody-proxy/tls/tls.key', minVersion: 'TLSv1.3' });
    t.match(raw['upstream'], { url: 'https://127.0.0.1:3000', caFile: '/etc/custody-proxy/upstream-ca/bundle.pem' });
    t.equal((find(docs, 'Service', 'release-custody-proxy') as { spec: { ports: Array<{ name: string }> } }).spec.ports[0]?.name, 'https');
    // The proxy's own config parser accepts what the chart rendered.
    const config = proxyConfig(docs) as unknown as { tls?: { certFile?: string }; upstream: { caFile?: string } };
    t.equal(config.tls?.certFile, '/etc/custody-proxy/tls/tls.crt');
    t.equal(config.upstream.caFile, '/etc/custody-proxy/upstream-ca/bundle.pem');
  });

  t.test('native sidecar: the proxy is an init container with restartPolicy Always, the grace period covers both stops', async (t) => {
    const docs = render({ nativeSidecar: true });
    const spec = podOf(docs).template.spec;
    const init = spec?.initContainers ?? [];
    t.same(init.map((c) => c.name), ['custody-proxy']);
    t.equal(init[0]?.restartPolicy, 'Always');
    t.notOk(spec?.containers.some((c) => c.name === 'custody-proxy'), 'not among the containers');
    // The app sleeps 30 s and exits; only then does the proxy get SIGTERM and take up to 30 s.
    t.equal(spec?.terminationGracePeriodSeconds, 30 + 30 + 10);
  });

  t.test('memory store on one replica: no Redis anywhere, its bounds in the config, no PDB', async (t) => {
    const docs = render(NO_REDIS_SECRET, { replicaCount: 1, proxy: { config: { idempotency: { store: 'memory', memory: { maxBytes: '64MiB' } } } } });
    t.notOk(docs.some((d) => d['kind'] === 'PodDisruptionBudget'), 'one replica: a PDB would block node drains');
    const config = proxyConfig(docs, {});
    t.equal(config.idempotency.store, 'memory');
    t.equal(config.idempotency.memory.maxBytes, 64 * 1024 * 1024);
    t.notOk(podOf(docs).proxy.env?.some((e) => e.name === 'CUSTODY_PROXY_REDIS_URL'));
  });

  t.test('rateLimits pass through; rateLimits.store redis brings the Redis connection', async (t) => {
    const docs = render({ replicaCount: 1, proxy: { config: { idempotency: { store: 'memory' }, rateLimits: { store: 'redis', failedAuth: { limit: 20, window: '1m' }, onStoreError: 'deny' } } } });
    const config = proxyConfig(docs);
    t.same(config.rateLimits, { store: 'redis', failedAuth: { limit: 20, window: 60_000 }, onStoreError: 'deny' });
    t.ok(podOf(docs).proxy.env?.some((e) => e.name === 'CUSTODY_PROXY_REDIS_URL'), 'the limiter reads the Redis URL');
  });

  t.test('images: digest wins, global.imageRegistry wins; pull secrets merged; scheduling and extra fields', async (t) => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const docs = render({
      global: { imageRegistry: 'mirror.internal', imagePullSecrets: ['global-pull'] },
      imagePullSecrets: [{ name: 'chart-pull' }],
      proxy: { image: { digest, pullPolicy: 'Always' }, extraEnv: [{ name: 'NODE_OPTIONS', value: '--max-semi-space-size=16' }], extraVolumeMounts: [{ name: 'scratch', mountPath: '/scratch' }] },
      app: { extraEnv: [{ name: 'MODE', value: 'x' }] },
      extraVolumes: [{ name: 'scratch', emptyDir: {} }],
      podLabels: { team: 'payments' }, podAnnotations: { note: 'x' }, commonLabels: { cost: 'c1' },
      priorityClassName: 'high', nodeSelector: { pool: 'custody' }, tolerations: [{ key: 'custody', operator: 'Exists' }],
      affinity: { podAntiAffinity: {} },
      topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { 'app.kubernetes.io/instance': '{{ .Release.Name }}' } } }],
      pdb: { minAvailable: 1 },
    });
    const { template, proxy, app } = podOf(docs);
    const spec = template.spec;
    t.equal(proxy.image, `mirror.internal/registry.example.com/custody-proxy@${digest}`);
    t.equal(app.image, 'mirror.internal/registry.example.com/custody-service:1.4.2');
    t.equal(proxy.imagePullPolicy, 'Always');
    t.same(spec?.imagePullSecrets, [{ name: 'chart-pull' }, { name: 'global-pull' }]);
    t.same(proxy.env?.at(-1), { name: 'NODE_OPTIONS', value: '--max-semi-space-size=16' });
    t.same(app.env, [{ name: 'MODE', value: 'x' }]);
    t.ok(proxy.volumeMounts?.some((m) => m.mountPath === '/scratch'));
    t.ok(spec?.volumes?.some((v) => v.name === 'scratch'));
    t.match(template.metadata?.labels, { team: 'payments', cost: 'c1' });
    t.equal(template.metadata?.annotations?.['note'], 'x');
    t.match(find(docs, 'Service', 'release-custody-proxy')['metadata'], { labels: { cost: 'c1' } });
    t.equal(spec?.priorityClassName, 'high');
    t.same(spec?.nodeSelector, { pool: 'custody' });
    t.same(spec?.tolerations, [{ key: 'custody', operator: 'Exists' }]);
    t.same(spec?.topologySpreadConstraints?.[0]?.labelSelector?.matchLabels, { 'app.kubernetes.io/instance': 'release' }, 'templated');
    t.match(find(docs, 'PodDisruptionBudget')['spec'], { minAvailable: 1 });
  });

  t.test('as a subchart: global.imageRegistry and imagePullSecrets from the parent reach the sidecar', async (t) => {
    const docs = r.render([{ global: { imageRegistry: 'mirror.internal', imagePullSecrets: ['parent-pull'] } }], exampleDir);
    validateAll(t, docs);
    const { proxy, template } = podOf(docs, 'payments');
    t.equal(proxy.image, 'mirror.internal/registry.example.com/custody-proxy:0.1.0');
    t.same(template.spec?.imagePullSecrets, [{ name: 'parent-pull' }]);
  });

  t.test('the own-deployment example: only the parent Deployment and the proxy ConfigMap, the sidecar injected', async (t) => {
    for (const nativeSidecar of [false, true]) {
      const docs = r.render([{ 'custody-proxy': { nativeSidecar } }], exampleDir);
      validateAll(t, docs);
      t.same(docs.map((d) => `${String(d['kind'])}/${String((d['metadata'] as Obj)['name'])}`).sort(), ['ConfigMap/release-custody-proxy', 'Deployment/release-payments']);
      const { proxy, app, template } = podOf(docs, 'payments');
      t.equal(proxy.restartPolicy, nativeSidecar ? 'Always' : undefined);
      t.same(proxy.args, ['serve', '--config', '/etc/custody-proxy/config/custody-proxy.yaml']);
      t.equal(template.spec?.volumes?.find((v) => v.name === 'custody-proxy-config')?.configMap?.name, 'release-custody-proxy', 'mounts the subchart ConfigMap');
      t.equal(template.spec?.volumes?.find((v) => v.name === 'custody-proxy-credentials')?.secret?.secretName, 'payments-credentials');
      t.equal(app.lifecycle?.preStop?.sleep?.seconds, 30);
      t.match(find(docs, 'Deployment')['spec'], { replicas: 3 }, 'replicas from the subchart values, which the guards read');
      t.equal(proxyConfig(docs).credentials.file, '/etc/custody-proxy/credentials/credentials.yaml');
    }
    const failure = r.failure([{ 'custody-proxy': { replicaCount: 3, proxy: { config: { idempotency: { store: 'memory' } } } } }], exampleDir);
    t.match(failure, /store is memory with replicaCount 3/, 'the guards hold in a parent chart too');
  });

  t.test('metrics Service: metrics.service.enabled alone renders it; deployment.enabled false renders no Service; its name stays within 63', async (t) => {
    const names = (docs: Obj[], kind: string): unknown[] => docs.filter((d) => d['kind'] === kind).map((d) => (d['metadata'] as Obj)['name']).sort();
    const alone = render({ metrics: { service: { enabled: true, annotations: { 'example.com/scrape': 'yes' } } } });
    t.same(names(alone, 'Service'), ['release-custody-proxy', 'release-custody-proxy-metrics']);
    t.same(names(alone, 'ServiceMonitor'), [], 'no ServiceMonitor unless asked for');
    t.match(find(alone, 'Service', 'release-custody-proxy-metrics')['metadata'], { annotations: { 'example.com/scrape': 'yes' }, labels: { 'app.kubernetes.io/component': 'metrics' } });
    const sidecar = render({ deployment: { enabled: false }, metrics: { service: { enabled: true }, serviceMonitor: { enabled: true } } });
    t.same(sidecar.map((d) => d['kind']), ['ConfigMap'], 'no Service nor ServiceMonitor without the chart\'s pods');
    const long = render({ fullnameOverride: 'x'.repeat(63), metrics: { serviceMonitor: { enabled: true } } });
    const metricsName = String(names(long, 'Service').find((n) => String(n).endsWith('-metrics')));
    t.ok(metricsName.length <= 63, `${metricsName.length} characters`);
    t.equal(metricsName, `${'x'.repeat(55)}-metrics`);
    t.ok(selects((find(long, 'ServiceMonitor')['spec'] as { selector: Obj }).selector['matchLabels'], labelsOf(find(long, 'Service', metricsName))), 'the ServiceMonitor still finds it');
  });

  t.test('PodMonitor for your own Deployment: selects the example\'s pods, scrapes the sidecar\'s admin port', async (t) => {
    const docs = r.render([{ 'custody-proxy': { metrics: { podMonitor: { enabled: true, interval: '20s', labels: { release: 'prom' } } } } }], exampleDir);
    validateAll(t, docs);
    t.same(docs.map((d) => String(d['kind'])).sort(), ['ConfigMap', 'Deployment', 'PodMonitor'], 'the PodMonitor beside the ConfigMap, no Service');
    const pm = find(docs, 'PodMonitor');
    t.match(pm['metadata'], { name: 'release-custody-proxy', labels: { release: 'prom' } });
    const spec = pm['spec'] as { selector: Obj; podMetricsEndpoints: Array<{ port: string; path: string; interval: string; relabelings: Obj[] }> };
    const { template, proxy } = podOf(docs, 'payments');
    t.ok(selects(spec.selector['matchLabels'], labelsOf(template)), `its default selector ${JSON.stringify(spec.selector)} matches the pod template's labels`);
    t.same(Object.keys(spec.selector), ['matchLabels']);
    const [endpoint, ...more] = spec.podMetricsEndpoints;
    t.same(more, [], 'one endpoint');
    t.match(endpoint, { port: 'admin', path: '/metrics', interval: '20s' });
    t.ok(proxy.ports?.some((p) => p.name === endpoint?.port), 'the sidecar container has the port it names');
    t.same(endpoint?.relabelings, [
      { sourceLabels: ['__meta_kubernetes_pod_container_name'], regex: proxy.name, action: 'keep' },
      { targetLabel: 'job', replacement: 'release-custody-proxy' },
    ], 'only the sidecar container (by its rendered name) is kept; job as with the ServiceMonitor');
    const own = r.render([{ 'custody-proxy': { metrics: { podMonitor: { enabled: true, selector: { 'app.kubernetes.io/name': 'payments', 'app.kubernetes.io/instance': null } } } } }], exampleDir);
    t.same((find(own, 'PodMonitor')['spec'] as { selector: Obj }).selector, { matchLabels: { 'app.kubernetes.io/name': 'payments' } }, 'a selector of your own replaces the default');
    const chartOnly = render({ deployment: { enabled: false }, metrics: { podMonitor: { enabled: true } } });
    t.same(chartOnly.map((d) => String(d['kind'])).sort(), ['ConfigMap', 'PodMonitor'], 'the chart alone with deployment.enabled: false');
  });

  t.test('monitoring: PrometheusRule holds the alert groups (promtool accepts them), the dashboard ConfigMap the JSON', async (t) => {
    const docs = render({ metrics: { prometheusRule: { enabled: true, labels: { release: 'prom' }, namespace: 'monitoring' }, grafanaDashboard: { enabled: true } } });
    const rule = find(docs, 'PrometheusRule');
    t.equal(rule['apiVersion'], 'monitoring.coreos.com/v1');
    t.match(rule['metadata'], { namespace: 'monitoring', labels: { release: 'prom' } });
    const spec = rule['spec'] as { groups?: Array<{ name: string; rules: unknown[] }> };
    t.same(Object.keys(spec), ['groups'], 'spec holds only groups');
    t.ok((spec.groups?.[0]?.rules.length ?? 0) > 0, 'with rules');
    const dir = mkdtempSync(path.join(tmpdir(), 'helm-rule-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(path.join(dir, 'rules.yaml'), JSON.stringify(spec));
    const check = spawnSync('promtool', ['check', 'rules', path.join(dir, 'rules.yaml')], { encoding: 'utf8', timeout: 60_000 });
    if (check.error !== undefined) t.fail('promtool is not installed: apt-get install prometheus');
    else t.equal(check.status, 0, `promtool check rules: ${check.stdout}${check.stderr}`);
    const dash = find(docs, 'ConfigMap', 'release-custody-proxy-dashboard') as unknown as IConfigMap;
    t.match(dash.metadata?.labels, { grafana_dashboard: '1' });
    const json: unknown = JSON.parse(dash.data?.['custody-proxy.json'] ?? '');
    t.match(json, { title: String });
  });
}

// The Helm chart (helm/custody-proxy), validated as far as a machine without helm allows: the
// templates are rendered offline by test/packaging/render (Helm's engine: text/template + sprig, built
// from Debian's Go packages), every rendered object is validated against the Kubernetes schemas
// (kubernetes-models), and the chart's promises are checked on the rendered objects, including that
// the ConfigMap holds a config the proxy accepts. This file: the defaults and the Secrets; the other
// combinations, the guards and the values schema are in helm-*.test.ts beside it.
import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { IServiceAccount, IService } from 'kubernetes-models/v1';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { APP_TAG, CONFIG_FILE, buildRenderer, chartDir, find, goAvailable, labelsOf, podOf, proxyConfig, selects, validateAll, type Obj } from '../helpers/helm-render.js';

const SECRETS = {
  redis: { existingSecret: 'custody-proxy-redis', secretKey: 'url' },
  adminToken: { existingSecret: 'custody-proxy-admin', secretKey: 'token' },
  metrics: { serviceMonitor: { enabled: true, interval: '15s', labels: { release: 'prometheus' } } },
};

if (goAvailable(t)) {
  const r = buildRenderer(t);
  const appVersion = String((parse(readFileSync(path.join(chartDir, 'Chart.yaml'), 'utf8')) as Obj)['appVersion']);

  for (const [label, values] of [['default values', []], ['default values, an app tag given', [APP_TAG]], ['redis secret, admin token, serviceMonitor', [APP_TAG, SECRETS]]] as const) {
    t.test(label, async (t) => {
      const docs = r.render([...values]);
      const withSecrets = values.length > 1;
      const kinds = docs.map((d) => d['kind']).sort();
      const expected = ['ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Service', 'ServiceAccount'];
      // With the ServiceMonitor comes the metrics Service, the second Service.
      t.same(kinds, withSecrets ? [...expected, 'Service', 'ServiceMonitor'].sort() : expected);
      t.notOk(kinds.includes('NetworkPolicy'), 'no NetworkPolicy unless networkPolicy.enabled: it would deny ingress an install relies on');
      validateAll(t, docs);
      const { template, proxy, app, containers } = podOf(docs);
      const spec = template.spec;
      if (spec === undefined) throw new Error('no pod spec');
      const svc = find(docs, 'Service', 'release-custody-proxy') as unknown as IService;

      t.test('images: the proxy tag is the appVersion, the app tag as set', async (t) => {
        t.equal(proxy.image, `registry.example.com/custody-proxy:${appVersion}`);
        t.equal(app.image, `registry.example.com/custody-service:${values.length === 0 ? '1.0.0' : '1.4.2'}`, 'values.yaml\'s example tag, or the one given');
      });

      t.test('the Service carries client traffic to the proxy only: never the custody service, never the admin port', async (t) => {
        const ports = svc.spec?.ports ?? [];
        t.same(ports.map((p) => [p.name, p.port, p.targetPort]), [['http', 80, 'proxy']], 'one port: http to the proxy port');
        t.equal(proxy.ports?.find((p) => p.name === 'proxy')?.containerPort, 8080);
        t.notOk(ports.some((p) => p.targetPort === 'admin' || p.port === 9090 || p.targetPort === 9090), 'no admin port on the client Service');
        t.same(app.ports ?? [], [], 'the custody service declares no port');
        const dep = find(docs, 'Deployment') as { spec?: { selector?: { matchLabels?: unknown } } };
        t.same(svc.spec?.selector, dep.spec?.selector?.matchLabels, 'selector matches the pods');
      });

      t.test('ServiceAccount without a token, on the SA and on the pod; PDB on the pods', async (t) => {
        const sa = find(docs, 'ServiceAccount') as unknown as IServiceAccount;
        t.equal(sa.automountServiceAccountToken, false);
        t.equal(spec.automountServiceAccountToken, false);
        t.equal(spec.serviceAccountName, sa.metadata?.name);
        const pdb = find(docs, 'PodDisruptionBudget') as unknown as IPodDisruptionBudget;
        t.equal(pdb.spec?.maxUnavailable, 1, 'maxUnavailable 1 by default');
        t.same(pdb.spec?.selector?.matchLabels, svc.spec?.selector);
      });

      t.test('Secrets and the ConfigMap mounted as folders, no subPath anywhere', async (t) => {
        const mounts = containers.flatMap((c) => c.volumeMounts ?? []);
        t.ok(mounts.every((m) => m.subPath === undefined && m.subPathExpr === undefined), 'no subPath');
        t.equal(proxy.volumeMounts?.find((m) => m.name === 'custody-proxy-credentials')?.mountPath, '/etc/custody-proxy/credentials');
        t.equal(spec.volumes?.find((v) => v.name === 'custody-proxy-credentials')?.secret?.secretName, 'custody-proxy-credentials');
      });

      t.test('probes on the admin port; hardened security context; scrape and checksum annotations', async (t) => {
        t.same(proxy.startupProbe?.httpGet, { path: '/healthz', port: 'admin' });
        t.same(proxy.livenessProbe?.httpGet, { path: '/healthz', port: 'admin' });
        t.same(proxy.readinessProbe?.httpGet, { path: '/readyz', port: 'admin' });
        t.equal(proxy.ports?.find((p) => p.name === 'admin')?.containerPort, 9090);
        t.equal(spec.securityContext?.runAsNonRoot, true, 'pod runAsNonRoot');
        for (const c of containers) {
          t.equal(c.securityContext?.readOnlyRootFilesystem, true, `${c.name} readOnlyRootFilesystem`);
          t.equal(c.securityContext?.allowPrivilegeEscalation, false, `${c.name} allowPrivilegeEscalation false`);
        }
        const ann = template.metadata?.annotations ?? {};
        t.equal(ann['prometheus.io/scrape'], 'true');
        t.equal(ann['prometheus.io/port'], '9090');
        t.equal(ann['prometheus.io/path'], '/metrics');
        t.match(ann['checksum/config'], /^[0-9a-f]{64}$/, 'checksum/config is a sha256');
      });

      t.test('shutdown order: the app outlives the proxy drain, the grace period outlives both', async (t) => {
        const config = proxyConfig(docs);
        const drain = (config.drainDelay + config.shutdownTimeout) / 1000;
        t.equal(app.lifecycle?.preStop?.sleep?.seconds, drain, 'the app sleeps drainDelay + shutdownTimeout before its SIGTERM');
        t.equal(proxy.lifecycle, undefined, 'the proxy drains on SIGTERM itself');
        t.ok((spec.terminationGracePeriodSeconds ?? 0) > drain, `grace ${String(spec.terminationGracePeriodSeconds)} > ${drain}`);
        t.equal(spec.terminationGracePeriodSeconds, drain + 10, 'computed: + terminationGraceMarginSeconds');
      });

      t.test('the ConfigMap holds a valid custody-proxy config matching the mounts', async (t) => {
        t.same(proxy.args, ['serve', '--config', CONFIG_FILE], 'serve, on the mounted config');
        const configDir = proxy.volumeMounts?.find((m) => m.name === 'custody-proxy-config')?.mountPath ?? '';
        t.equal(path.posix.join(configDir, 'custody-proxy.yaml'), CONFIG_FILE);
        t.ok(proxy.env?.some((e) => e.name === 'CUSTODY_PROXY_REDIS_URL'), 'the config reads CUSTODY_PROXY_REDIS_URL, so the pod sets it');
        const config = proxyConfig(docs);
        t.equal(config.credentials.file, '/etc/custody-proxy/credentials/credentials.yaml');
        t.equal(config.drainDelay, 5_000, 'drainDelay 5s from values.yaml');
        t.equal(config.idempotency.store, 'redis');
        t.equal(config.credentials.expiryWarning, 7 * 86_400_000, 'credentials.expiryWarning 7d from values.yaml');
        if (withSecrets) {
          const adminMount = proxy.volumeMounts?.find((m) => m.name === 'custody-proxy-admin-token')?.mountPath;
          t.equal(config.admin.tokenFile, `${adminMount ?? '(unmounted)'}/token`, 'admin token file lies in the mounted Secret');
          t.equal(spec.volumes?.find((v) => v.name === 'custody-proxy-admin-token')?.secret?.secretName, 'custody-proxy-admin');
          t.same(proxy.env?.find((e) => e.name === 'CUSTODY_PROXY_REDIS_URL')?.valueFrom?.secretKeyRef, { name: 'custody-proxy-redis', key: 'url' });
        } else {
          t.equal(config.admin.tokenFile, undefined, 'no admin token by default');
        }
      });

      if (withSecrets) {
        t.test('the metrics Service carries the admin port, to the same pods', async (t) => {
          const metrics = find(docs, 'Service', 'release-custody-proxy-metrics') as unknown as IService;
          t.equal(metrics.spec?.type, 'ClusterIP');
          t.same(metrics.spec?.ports, [{ name: 'admin', port: 9090, targetPort: 'admin' }]);
          t.same(metrics.spec?.selector, svc.spec?.selector, 'the pods the client Service selects');
          t.equal(labelsOf(metrics)['app.kubernetes.io/component'], 'metrics');
        });

        t.test('ServiceMonitor scrapes /metrics on the metrics Service, and only there', async (t) => {
          const sm = find(docs, 'ServiceMonitor');
          t.match(sm['metadata'], { labels: { release: 'prometheus' } });
          const spec = sm['spec'] as Obj;
          const matchLabels = (spec['selector'] as Obj)['matchLabels'];
          t.same(Object.keys(spec['selector'] as Obj), ['matchLabels'], 'matchLabels only');
          const services = docs.filter((d) => d['kind'] === 'Service');
          t.same(services.filter((d) => selects(matchLabels, labelsOf(d))).map((d) => (d['metadata'] as Obj)['name']), ['release-custody-proxy-metrics'],
            'selects the metrics Service, not the client Service');
          t.same(spec['endpoints'], [{ port: 'admin', path: '/metrics', interval: '15s', relabelings: [{ targetLabel: 'job', replacement: 'release-custody-proxy' }] }],
            'the admin port by name; job kept at the full name it had when the client Service was scraped');
        });
      }
    });
  }

  t.test('the config checksum follows the config', async (t) => {
    const checksum = (docs: Obj[]): unknown => podOf(docs).template.metadata?.annotations?.['checksum/config'];
    t.not(checksum(r.render([APP_TAG])), checksum(r.render([APP_TAG, SECRETS])), 'the admin token changes the config and its checksum');
  });

  t.test('NOTES.txt: how to reach the service and the Secrets; warnings while the admin token is unset', async (t) => {
    const notes = r.notes([APP_TAG]);
    t.match(notes, 'http://release-custody-proxy.default.svc:80');
    t.match(notes, 'port-forward deploy/release-custody-proxy 9090', 'the admin port through the pods: the client Service has none');
    t.notMatch(notes, /svc\/release-custody-proxy 9090/);
    t.notMatch(notes, /custody-proxy-metrics/, 'no metrics Service by default');
    t.match(r.notes([APP_TAG, SECRETS]), 'http://release-custody-proxy-metrics.default.svc:9090/metrics (scraped by ServiceMonitor release-custody-proxy)');
    t.match(r.notes([APP_TAG, { deployment: { enabled: false }, metrics: { podMonitor: { enabled: true } } }]),
      'PodMonitor release-custody-proxy scrapes the custody-proxy container\'s admin port in the pods matching\n{"app.kubernetes.io/instance":"release"}');
    t.match(notes, 'create secret generic custody-proxy-credentials');
    t.match(notes, /WARNING: adminToken\.existingSecret is not set/);
    t.match(notes, /WARNING: proxy\.config\.environment is "any"/);
    const pinned = r.notes([APP_TAG, SECRETS, { proxy: { config: { environment: 'live' } } }]);
    t.notMatch(pinned, /WARNING/, 'no warning once the token is set and the environment pinned');
  });
}

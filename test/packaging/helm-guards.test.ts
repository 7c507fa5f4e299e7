// Values that would deploy a broken workload fail rendering with a message saying why (the chart's
// guards), and values.schema.json (which Helm checks before rendering) accepts the documented values
// and rejects the rest, `global` from a parent chart included.
import t, { type Test } from 'tap';
import { APP_TAG, buildRenderer, chartValues, goAvailable, podOf, valuesSchema, withValues, type Obj } from '../helpers/helm-render.js';

const memory = (extra: Obj = {}): Obj => withValues({ redis: { existingSecret: '' }, replicaCount: 1, proxy: { config: { idempotency: { store: 'memory' } } } }, extra);
const limit = (memoryLimit: string, maxBytes?: string): Obj =>
  memory({ proxy: { resources: { limits: { memory: memoryLimit } }, config: { idempotency: { memory: maxBytes === undefined ? {} : { maxBytes } } } } });

t.test('values.schema.json', async (t) => {
  const validate = valuesSchema();
  const values = chartValues();
  const ok = (patch: Obj, label: string): void => {
    t.ok(validate(withValues(values, patch)), `${label}: ${JSON.stringify(validate.errors)}`);
  };
  const bad = (patch: Obj, label: string): void => {
    t.notOk(validate(withValues(values, patch)), label);
  };
  t.ok(validate(values), `values.yaml: ${JSON.stringify(validate.errors)}`);
  ok({ global: { imageRegistry: 'm', imagePullSecrets: ['a', { name: 'b' }], storageClass: 'x' } }, "a parent's global, with keys of its own");
  ok({ proxy: { config: { idempotency: { redis: { sentinels: ['[fd00::1]:26379'], name: 'm', waitReplicas: 2 } } } } }, 'sentinels');
  ok({ proxy: { config: { idempotency: { redis: { sentinels: ['s:26379'], name: 'm', username: 'u', sentinelUsername: 'w', tls: true } } } }, redis: { passwordKey: 'password', sentinelPasswordKey: 'sp' } }, 'Redis logins and tls');
  ok({ proxy: { tls: { existingSecret: 's', minVersion: 'TLSv1.3' }, config: { rateLimits: { failedAuth: { limit: 20, window: '1m' } } } } }, 'tls, failedAuth');
  ok({ terminationGracePeriodSeconds: 90, pdb: { minAvailable: '50%' }, app: { preStopSleepSeconds: 0 } }, 'grace, pdb, preStop');
  bad({ replicaCount: 0 }, 'replicaCount: 0 is rejected');
  bad({ replicas: 3 }, 'an unknown top-level key is rejected');
  bad({ proxy: { adminPort: 70000 } }, 'a port out of range is rejected');
  bad({ credentials: { existingSecret: '' } }, 'an empty credentials secret is rejected');
  bad({ proxy: { image: 'registry.example.com/custody-proxy:0.1.0' } }, 'the old one-string image is rejected');
  bad({ proxy: { image: { digest: 'latest' } } }, 'a digest that is not sha256:… is rejected');
  bad({ proxy: { config: { drainDelay: 5 } } }, 'a bare number as a duration is rejected');
  bad({ proxy: { config: { environment: 'production' } } }, 'an unknown environment is rejected');
  bad({ proxy: { config: { idempotency: { redis: { waitReplicas: -1 } } } } }, 'waitReplicas below 0 is rejected');
  bad({ proxy: { config: { idempotency: { redis: { cluster: ['redis://c:6379'] } } } } }, 'a node that is not host:port is rejected');
  bad({ proxy: { config: { idempotency: { redis: { url: 'redis://c:6379' } } } } }, 'an unknown redis key is rejected');
  bad({ proxy: { config: { rateLimits: { onStoreError: 'block' } } } }, 'an unknown onStoreError is rejected');
  bad({ metrics: { grafanaDashboard: { labels: { grafana_dashboard: 1 } } } }, 'a label that is not a string is rejected');
  ok({ metrics: { service: { enabled: true, annotations: { a: 'b' } }, podMonitor: { enabled: true, interval: '1m', labels: { release: 'p' }, selector: { app: '{{ .Release.Name }}' } } } }, 'metrics Service, PodMonitor');
  bad({ metrics: { service: { port: 9091 } } }, 'an unknown metrics.service key is rejected (its port is proxy.adminPort)');
  bad({ metrics: { podMonitor: { selector: { matchLabels: { app: 'x' } } } } }, 'podMonitor.selector is matchLabels itself, not a LabelSelector');
  bad({ metrics: { podMonitor: { enabled: 'yes' } } }, 'podMonitor.enabled is a boolean');
  ok({ networkPolicy: { enabled: true, allowExternal: false, ingressFrom: [{ namespaceSelector: { matchLabels: { team: 'p' } }, podSelector: { matchExpressions: [{ key: 'role', operator: 'In', values: ['client'] }] } }, { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }],
    metricsFrom: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], extraIngress: [{ from: [{ podSelector: {} }], ports: [{ port: 9229 }] }] } }, 'networkPolicy');
  bad({ networkPolicy: { enabled: 'yes' } }, 'networkPolicy.enabled is a boolean');
  bad({ networkPolicy: { allowFrom: [] } }, 'an unknown networkPolicy key is rejected');
  bad({ networkPolicy: { ingressFrom: { podSelector: {} } } }, 'ingressFrom is a list of peers');
  bad({ networkPolicy: { metricsFrom: [{}] } }, 'an empty peer is rejected');
  bad({ networkPolicy: { metricsFrom: [{ namespace: 'monitoring' }] } }, 'a peer key that is not podSelector, namespaceSelector or ipBlock is rejected');
  bad({ networkPolicy: { ingressFrom: [{ ipBlock: { except: ['10.1.0.0/16'] } }] } }, 'an ipBlock without cidr is rejected');
  bad({ networkPolicy: { extraIngress: [{ to: [] }] } }, 'an extraIngress rule with an egress key is rejected');
});

if (goAvailable(t)) {
  const r = buildRenderer(t);
  const fails = (t: Test, values: Obj, message: RegExp, label: string): void => {
    t.match(r.failure([APP_TAG, values]), message, label);
  };
  const renders = (t: Test, values: Obj, label: string): void => {
    t.doesNotThrow(() => r.render([APP_TAG, values]), label);
  };

  t.test('memory store: more than one replica fails', async (t) => {
    fails(t, memory({ replicaCount: 2 }), /store is memory with replicaCount 2: each replica would keep its own keys/, 'two replicas');
    renders(t, memory(), 'one replica');
  });

  t.test('memory store: a memory limit below maxBytes + 180Mi fails; the default limit passes', async (t) => {
    renders(t, memory(), 'the default 512Mi holds the default maxBytes 256MiB');
    fails(t, limit('256Mi'), /proxy\.resources\.limits\.memory 256Mi is below what the memory store needs: .* = 436Mi/, '256Mi, the old default');
    renders(t, limit('436Mi'), 'exactly maxBytes + 180Mi');
    fails(t, limit('435Mi'), /below what the memory store needs/, '1Mi short');
    renders(t, limit('1Gi', '512MiB'), '1Gi for 512MiB');
    fails(t, limit('1Gi', '1GiB'), /= 1204Mi/, '1Gi for 1GiB');
    renders(t, limit('600M'), '600M (decimal, 572Mi) for 256MiB');
    fails(t, limit('400M'), /400M is below/, '400M (decimal, 381Mi)');
    renders(t, limit('2G', '1073741824'), 'maxBytes as a bare number of bytes');
    renders(t, memory({ proxy: { resources: { limits: null } } }), 'no limit at all');
    renders(t, { proxy: { resources: { limits: { memory: '128Mi' } } } }, 'the redis store: the memory bounds do not apply');
    fails(t, limit('lots'), /proxy\.resources\.limits\.memory: "lots" is not a size/, 'an unreadable size');
  });

  t.test('terminationGracePeriodSeconds must exceed what the shutdown needs', async (t) => {
    fails(t, { terminationGracePeriodSeconds: 30 }, /terminationGracePeriodSeconds 30 must be greater than 30: proxy\.config\.drainDelay \+ shutdownTimeout/, 'equal to drain + shutdown');
    renders(t, { terminationGracePeriodSeconds: 31 }, 'one second more');
    fails(t, { terminationGracePeriodSeconds: 60, nativeSidecar: true }, /must be greater than 60: .*nativeSidecar: the proxy stops after the app/, 'native sidecar: app preStop + proxy drain');
    renders(t, { terminationGracePeriodSeconds: 61, nativeSidecar: true }, 'native sidecar, one second more');
    const docs = r.render([APP_TAG, { proxy: { config: { drainDelay: '1500ms', shutdownTimeout: '1m' } } }]);
    t.equal(podOf(docs).template.spec?.terminationGracePeriodSeconds, 2 + 60 + 10, 'durations parsed (1500ms rounds up to 2 s)');
    t.equal(podOf(docs).app.lifecycle?.preStop?.sleep?.seconds, 62);
    fails(t, { proxy: { config: { drainDelay: '5 seconds' } } }, /proxy\.config\.drainDelay: "5 seconds" is not a duration/, 'an unreadable duration');
  });

  t.test('Redis settings, images', async (t) => {
    fails(t, { redis: { existingSecret: '' } }, /redis\.existingSecret is required/, 'store redis on one server without the Secret');
    fails(t, { proxy: { config: { idempotency: { redis: { sentinels: ['s:26379'] } } } } }, /name is required with sentinels/, 'sentinels without a name');
    fails(t, { proxy: { config: { idempotency: { redis: { sentinels: ['s:26379'], name: 'm', cluster: ['c:6379'] } } } } }, /not both/, 'sentinels and cluster');
    fails(t, { proxy: { config: { idempotency: { redis: { tls: true } } } } }, /one server takes them in the URL/, 'tls on one server');
    fails(t, { proxy: { config: { idempotency: { redis: { cluster: ['c:6379'], username: 'u' } } } } }, /username needs its password.*passwordKey/, 'a user without redis.passwordKey');
    fails(t, { proxy: { config: { idempotency: { redis: { sentinels: ['s:26379'], name: 'm', sentinelUsername: 'u' } } } }, redis: { passwordKey: 'p' } }, /sentinelUsername needs its password/, 'a sentinel user without its key');
    t.match(r.failure([{ app: { image: { tag: '' } } }]), /app\.image\.tag \(or \.digest\) is required: pin the image, never latest/, 'an app image without tag or digest');
  });

  t.test('the PodMonitor beside the ServiceMonitor fails: every series scraped twice', async (t) => {
    fails(t, { metrics: { serviceMonitor: { enabled: true }, podMonitor: { enabled: true } } }, /metrics\.podMonitor and metrics\.serviceMonitor are both enabled: both would scrape the same pods/, 'both, with deployment.enabled');
    renders(t, { deployment: { enabled: false }, metrics: { serviceMonitor: { enabled: true }, podMonitor: { enabled: true } } }, 'deployment.enabled false: no ServiceMonitor is rendered, the PodMonitor alone');
  });
}

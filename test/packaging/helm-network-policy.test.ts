// The chart's optional NetworkPolicy (networkPolicy.*): off by default; when on, the client port is
// open or limited to ingressFrom, the admin port reachable from metricsFrom only, on the chart's pods,
// with the ports the proxy container really declares.
import t from 'tap';
import type { INetworkPolicy, INetworkPolicyIngressRule } from 'kubernetes-models/networking.k8s.io/v1';
import { APP_TAG, buildRenderer, find, goAvailable, labelsOf, podOf, selects, validatedRender, type Obj } from '../helpers/helm-render.js';

if (goAvailable(t)) {
  const r = buildRenderer(t);
  const render = validatedRender(t, r);

  t.test('NetworkPolicy: the client port open or from ingressFrom, the admin port from metricsFrom only, on the chart\'s pods', async (t) => {
    const monitoring = [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }];
    const clients = [{ namespaceSelector: { matchLabels: { team: 'payments' } }, podSelector: { matchLabels: { role: 'client' } } }];
    const debug = { from: [{ podSelector: { matchLabels: { role: 'debug' } } }], ports: [{ port: 9229, protocol: 'TCP' }] };
    const policyOf = (...values: Obj[]): { docs: Obj[]; rules: INetworkPolicyIngressRule[]; rule: (name: string) => INetworkPolicyIngressRule[] } => {
      const docs = render({ networkPolicy: { enabled: true } }, ...values);
      const np = find(docs, 'NetworkPolicy') as unknown as INetworkPolicy;
      t.equal(np.apiVersion, 'networking.k8s.io/v1');
      t.same(np.spec?.policyTypes, ['Ingress'], 'ingress only: egress stays open');
      t.same(np.spec?.podSelector?.matchLabels, (find(docs, 'Deployment') as { spec: { selector: { matchLabels: unknown } } }).spec.selector.matchLabels, 'the Deployment\'s selector');
      t.ok(selects(np.spec?.podSelector?.matchLabels, labelsOf(podOf(docs).template)), 'selects the pod template');
      const rules = np.spec?.ingress ?? [];
      t.ok(rules.every((r) => r.from === undefined || r.from.length > 0), 'no rule with an empty from (which would admit everyone)');
      // The rules name the ports the proxy container actually declares (an init container with nativeSidecar).
      const declared = (name: string): number | undefined => podOf(docs).proxy.ports?.find((p) => p.name === name)?.containerPort;
      const rule = (name: string): INetworkPolicyIngressRule[] => rules.filter((r) => r.ports?.some((p) => p.port === declared(name) && p.protocol === 'TCP'));
      return { docs, rules, rule };
    };
    const open = policyOf({ networkPolicy: { metricsFrom: monitoring, extraIngress: [debug] } });
    t.same(open.rule('proxy'), [{ ports: [{ port: 8080, protocol: 'TCP' }] }], 'allowExternal: the client port from every source');
    t.same(open.rule('admin'), [{ ports: [{ port: 9090, protocol: 'TCP' }], from: monitoring }], 'the admin port from the metricsFrom peers only');
    t.same(open.rules.at(-1), debug, 'extraIngress appended as given');
    t.equal(open.rules.length, 3);
    const closed = policyOf({ nativeSidecar: true, proxy: { port: 8443, adminPort: 9443 }, networkPolicy: { allowExternal: false, ingressFrom: clients } });
    t.same(closed.rule('proxy'), [{ ports: [{ port: 8443, protocol: 'TCP' }], from: clients }], 'allowExternal false: the client port from ingressFrom only');
    t.same(closed.rule('admin'), [], 'no metricsFrom: no rule opens the admin port');
    t.equal(closed.rules.length, 1);
    t.notOk(closed.rules.some((r) => r.ports?.some((p) => p.port === 3000)), 'never the custody service\'s port');
    t.match(r.failure([APP_TAG, { networkPolicy: { enabled: true, allowExternal: false } }]), /networkPolicy\.allowExternal is false and networkPolicy\.ingressFrom is empty/, 'a policy letting no client in fails');
    const sidecar = render({ deployment: { enabled: false }, networkPolicy: { enabled: true } });
    t.notOk(sidecar.some((d) => d['kind'] === 'NetworkPolicy'), 'deployment.enabled false: the pods, and their policy, are yours');
  });
}

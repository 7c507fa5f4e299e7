// Renders a Helm chart offline with test/packaging/render (Helm's template engine rebuilt from
// Debian's Go packages) and gives the helm tests what they share: the rendered objects, each
// validated against its Kubernetes schema, the pod and its containers, the proxy config as the
// proxy itself reads it, and the values schema compiled with ajv.
import type { Test } from 'tap';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { Ajv, type ValidateFunction } from 'ajv';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1';
import { NetworkPolicy, type INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget, type IPodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Service, ServiceAccount, type IConfigMap, type IContainer, type IPodTemplateSpec, type IService, type IServiceAccount } from 'kubernetes-models/v1';
import { buildConfig, type ProxyConfig } from '../../src/config/load.js';

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export const root = fileURLToPath(new URL('../../', import.meta.url));
export const chartDir = path.join(root, 'helm/custody-proxy');
export const exampleDir = path.join(root, 'helm/examples/own-deployment');
export const CONFIG_FILE = '/etc/custody-proxy/config/custody-proxy.yaml';
/** A tag other than values.yaml's example one, so the tests see the value given win. */
export const APP_TAG = { app: { image: { tag: '1.4.2' } } };

const goEnv = { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOFLAGS: '' };

/** false (with a comment, or a failure on CI) when go is missing: the caller then skips its tests. */
export function goAvailable(t: Test): boolean {
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.error === undefined && go.status === 0) return true;
  const install = 'apt-get install golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev';
  if (process.env['CI'] === 'true') t.fail(`go is not installed: .ci/run installs it (${install})`);
  else t.comment(`skipped: go is not installed (${install})`);
  return false;
}

export interface Renderer {
  /** the objects rendered with these values merged over values.yaml, in order */
  render(values: Obj[], chart?: string): Obj[];
  /** the error output of a render that must fail (the test fails if it succeeds) */
  failure(values: Obj[], chart?: string): string;
  notes(values: Obj[]): string;
}

export function buildRenderer(t: Test): Renderer {
  const dir = mkdtempSync(path.join(tmpdir(), 'helm-render-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bin = path.join(dir, 'render');
  const build = spawnSync('go', ['build', '-o', bin, './test/packaging/render'], { cwd: root, env: goEnv, encoding: 'utf8', timeout: 180_000 });
  if (build.status !== 0) throw new Error(`go build ./test/packaging/render failed: ${build.stderr}${build.error?.message ?? ''}`);
  let n = 0;
  const run = (args: string[], values: Obj[], chart: string): SpawnSyncReturns<string> => {
    const files = values.map((v) => {
      const file = path.join(dir, `values-${n++}.yaml`);
      writeFileSync(file, JSON.stringify(v));
      return file;
    });
    return spawnSync(bin, [...args, chart, ...files], { encoding: 'utf8', timeout: 30_000 });
  };
  return {
    render(values, chart = chartDir) {
      const r = run([], values, chart);
      if (r.status !== 0) throw new Error(`render failed: ${r.stderr}`);
      return parseAllDocuments(r.stdout).map((d) => {
        if (d.errors.length > 0) throw new Error(`rendered YAML is invalid: ${d.errors.map((e) => e.message).join('; ')}`);
        const js: unknown = d.toJS();
        if (!isObj(js)) throw new Error(`rendered document is not an object: ${String(js)}`);
        return js;
      });
    },
    failure(values, chart = chartDir) {
      const r = run([], values, chart);
      if (r.status === 0) throw new Error(`render succeeded, a failure was expected for ${JSON.stringify(values)}`);
      return r.stderr;
    },
    notes(values) {
      const r = run(['--notes'], values, chartDir);
      if (r.status !== 0) throw new Error(`render --notes failed: ${r.stderr}`);
      return r.stdout;
    },
  };
}

export function find(docs: Obj[], kind: string, name?: string): Obj {
  const d = docs.find((x) => x['kind'] === kind && (name === undefined || (x['metadata'] as Obj | undefined)?.['name'] === name));
  if (d === undefined) throw new Error(`no ${kind}${name === undefined ? '' : ` ${name}`} rendered`);
  return d;
}

/** Validates every object against its Kubernetes schema (kubernetes-models throws on a violation);
 * kinds it has no schema for (monitoring.coreos.com) must be ones the tests know, and are checked
 * field by field by their own tests. */
export function validateAll(t: Test, docs: Obj[]): void {
  for (const d of docs) {
    const kind = String(d['kind']);
    const models: Record<string, (o: Obj) => { validate(): void }> = {
      Deployment: (o) => new Deployment(o as unknown as IDeployment),
      ConfigMap: (o) => new ConfigMap(o as unknown as IConfigMap),
      Service: (o) => new Service(o as unknown as IService),
      ServiceAccount: (o) => new ServiceAccount(o as unknown as IServiceAccount),
      PodDisruptionBudget: (o) => new PodDisruptionBudget(o as unknown as IPodDisruptionBudget),
      NetworkPolicy: (o) => new NetworkPolicy(o as unknown as INetworkPolicy),
    };
    const model = models[kind];
    if (model === undefined) {
      t.ok(['ServiceMonitor', 'PodMonitor', 'PrometheusRule'].includes(kind), `${kind} is a kind the tests know`);
      t.equal(d['apiVersion'], 'monitoring.coreos.com/v1', `${kind} is a Prometheus Operator object`);
      continue;
    }
    t.doesNotThrow(() => model(d).validate(), `${kind} validates against the Kubernetes schema`);
  }
}

/** The labels of an object's metadata (or a pod template's). */
export function labelsOf(o: unknown): Record<string, string> {
  const labels = isObj(o) && isObj(o['metadata']) ? o['metadata']['labels'] : undefined;
  return isObj(labels) ? Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, String(v)])) : {};
}

/** Whether a matchLabels selector selects an object with these labels (every pair present). */
export function selects(matchLabels: unknown, labels: Record<string, string>): boolean {
  if (!isObj(matchLabels)) throw new Error(`matchLabels is not a map: ${JSON.stringify(matchLabels)}`);
  return Object.entries(matchLabels).every(([k, v]) => labels[k] === v);
}

export interface Pod {
  readonly template: IPodTemplateSpec;
  readonly proxy: IContainer;
  readonly app: IContainer;
  /** every container, init containers included */
  readonly containers: IContainer[];
}

export function podOf(docs: Obj[], appName = 'custody-service'): Pod {
  const dep = find(docs, 'Deployment') as unknown as IDeployment;
  const template = dep.spec?.template;
  const spec = template?.spec;
  if (template === undefined || spec === undefined) throw new Error('Deployment without a pod template');
  const containers = [...(spec.initContainers ?? []), ...spec.containers];
  const proxy = containers.find((c) => c.name === 'custody-proxy');
  const app = containers.find((c) => c.name === appName);
  if (proxy === undefined || app === undefined) throw new Error('custody-proxy and the app container expected');
  return { template, proxy, app, containers };
}

export function configText(docs: Obj[], name = 'release-custody-proxy'): string {
  const text = (find(docs, 'ConfigMap', name) as unknown as IConfigMap).data?.['custody-proxy.yaml'];
  if (text === undefined) throw new Error('custody-proxy.yaml missing from the ConfigMap');
  return text;
}

/** The ConfigMap's config as the proxy reads it (throws the proxy's own ProblemsError if invalid). */
export function proxyConfig(docs: Obj[], env: NodeJS.ProcessEnv = { CUSTODY_PROXY_REDIS_URL: 'redis://:secret@redis:6379' }): ProxyConfig {
  return buildConfig(parse(configText(docs)), CONFIG_FILE, env);
}

export function chartValues(): Obj {
  const values: unknown = parse(readFileSync(path.join(chartDir, 'values.yaml'), 'utf8'));
  if (!isObj(values)) throw new Error('values.yaml is not an object');
  return values;
}

export function valuesSchema(): ValidateFunction {
  const schema: unknown = JSON.parse(readFileSync(path.join(chartDir, 'values.schema.json'), 'utf8'));
  if (!isObj(schema)) throw new Error('values.schema.json is not an object');
  // Helm ignores $schema; ajv only knows the draft-07 meta-schema under its http:// id.
  const { $schema: _meta, ...body } = schema;
  return new Ajv({ allErrors: true, strict: false }).compile(body);
}

/** values.yaml with `patch` deep-merged over it, like Helm merges a values file. */
export function withValues(base: Obj, patch: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    const cur = out[k];
    out[k] = isObj(v) && isObj(cur) ? withValues(cur, v) : v;
  }
  return out;
}

/** The chart rendered with the app tag and these values, every object validated (validateAll). */
export function validatedRender(t: Test, r: Renderer): (...values: Obj[]) => Obj[] {
  return (...values) => {
    const docs = r.render([APP_TAG, ...values]);
    validateAll(t, docs);
    return docs;
  };
}

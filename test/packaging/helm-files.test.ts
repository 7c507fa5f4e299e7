// What the chart keeps beside its templates stays in step with its sources: the alert rules and the
// dashboard (copies of deploy/, which Helm cannot read from outside the chart), the appVersion the
// sidecar templates fall back to in a parent chart, the example's dependency version, and the
// README's parameter tables (generated from values.yaml by @bitnami/readme-generator-for-helm).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { chartDir, exampleDir, root, type Obj } from '../helpers/helm-render.js';

const read = (file: string): Buffer => readFileSync(file);
const yamlOf = (file: string): Obj => parse(readFileSync(file, 'utf8')) as Obj;

t.test('files/ holds byte-identical copies of deploy/', async (t) => {
  for (const [copy, source] of [
    ['files/alerts.yaml', 'deploy/prometheus/alerts.yaml'],
    ['files/custody-proxy-dashboard.json', 'deploy/grafana/custody-proxy.json'],
  ] as const) {
    t.ok(read(path.join(chartDir, copy)).equals(read(path.join(root, source))), `helm/custody-proxy/${copy} equals ${source} (fix: cp ${source} helm/custody-proxy/${copy})`);
  }
});

t.test("the sidecar templates' appVersion fallback and the example's dependency follow Chart.yaml", async (t) => {
  const chart = yamlOf(path.join(chartDir, 'Chart.yaml'));
  const helpers = readFileSync(path.join(chartDir, 'templates/_helpers.tpl'), 'utf8');
  const fallback = /\{\{- else -\}\}([^{]+)\{\{- end -\}\}/.exec(helpers.slice(helpers.indexOf('define "custody-proxy.appVersion"')))?.[1];
  t.equal(fallback, chart['appVersion'], 'custody-proxy.appVersion falls back to the appVersion');
  const deps = yamlOf(path.join(exampleDir, 'Chart.yaml'))['dependencies'] as Obj[];
  t.equal(deps[0]?.['version'], chart['version'], 'the example depends on this chart version');
});

t.test('README.md parameter tables are generated from values.yaml (npm run chart:readme)', async (t) => {
  const generator = process.env['README_GENERATOR'] ?? path.join(root, 'node_modules/@bitnami/readme-generator-for-helm/bin/index.js');
  if (!existsSync(generator)) {
    if (process.env['CI'] === 'true') t.fail(`${generator} is missing: npm ci installs @bitnami/readme-generator-for-helm`);
    else t.comment(`skipped: ${generator} is missing (npm ci)`);
    return;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'chart-readme-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const readme = path.join(dir, 'README.md');
  copyFileSync(path.join(chartDir, 'README.md'), readme);
  const r = spawnSync(process.execPath, [generator, '--values', path.join(chartDir, 'values.yaml'), '--readme', readme], { encoding: 'utf8', timeout: 60_000 });
  t.equal(r.status, 0, `readme-generator: ${r.stderr}`);
  t.ok(readFileSync(readme).equals(read(path.join(chartDir, 'README.md'))), 'helm/custody-proxy/README.md is up to date (fix: npm run chart:readme)');
});

// The Grafana dashboard (deploy/grafana/custody-proxy.json, issue 16): importable into a current
// Grafana with a Prometheus chosen at import (the `datasource` variable), every panel on that data
// source and filtered by the job and replica variables, laid out without overlaps, and covering what
// the issue asks for. That every query returns data from a real proxy is test/integration/prometheus-alerts.
import t from 'tap';
import { readDashboard, panelQueries, metricNames, type Panel } from '../helpers/monitoring-files.js';

const dashboard = readDashboard();
const panels = dashboard.panels.filter((p) => p.type !== 'row');

t.test('a current schema with a Prometheus data source variable', async (t) => {
  t.ok(dashboard.schemaVersion >= 39, `schemaVersion ${dashboard.schemaVersion} (Grafana 11 or later)`);
  t.equal(dashboard.uid, 'custody-proxy');
  const ds = dashboard.templating.list.find((v) => v.name === 'datasource');
  t.equal(ds?.type, 'datasource');
  t.equal(ds?.query, 'prometheus');
  for (const name of ['job', 'instance']) t.ok(dashboard.templating.list.some((v) => v.name === name), `variable ${name}`);
});

t.test('every panel and target reads the chosen data source', async (t) => {
  for (const p of panels) {
    t.equal(p.datasource?.uid, '${datasource}', `${p.title} panel`);
    t.ok((p.targets ?? []).length > 0, `${p.title} has a query`);
    for (const target of p.targets ?? []) t.equal(target.datasource?.uid, '${datasource}', `${p.title} ${target.refId}`);
  }
});

t.test('every selector is filtered by job and replica', async (t) => {
  for (const q of panelQueries(dashboard)) {
    const selectors = q.expr.match(/\b(?:custody_proxy|process|nodejs)_[a-z0-9_]+(\{[^}]*\})?/g) ?? [];
    t.ok(selectors.length > 0, `${q.panel} ${q.refId} reads a metric`);
    for (const s of selectors) t.match(s, /\{job="\$job",instance=~"\$instance"[,}]/, `${q.panel}: ${s}`);
  }
});

function overlaps(a: Panel, b: Panel): boolean {
  const g = a.gridPos;
  const h = b.gridPos;
  return g.x < h.x + h.w && h.x < g.x + g.w && g.y < h.y + h.h && h.y < g.y + g.h;
}

t.test('panel ids are unique and the grid has no overlaps', async (t) => {
  const ids = dashboard.panels.map((p) => p.id);
  t.equal(new Set(ids).size, ids.length, 'unique ids');
  for (const p of dashboard.panels) t.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title} within 24 columns`);
  for (const [i, a] of dashboard.panels.entries()) {
    for (const b of dashboard.panels.slice(i + 1)) t.notOk(overlaps(a, b), `${a.title} / ${b.title}`);
  }
});

t.test('the panels issue 16 asks for', async (t) => {
  const read = new Set(panelQueries(dashboard).flatMap((q) => metricNames(q.expr)));
  for (const metric of [
    'custody_proxy_requests_total', // requests by outcome
    'custody_proxy_request_duration_seconds_bucket', // p50 / p99
    'custody_proxy_auth_failures_total',
    'custody_proxy_idempotency_total',
    'custody_proxy_credential_reloads_total',
    'custody_proxy_idempotency_store_up',
    'custody_proxy_requests_in_flight',
  ]) {
    t.ok(read.has(metric), metric);
  }
  const latency = panelQueries(dashboard).filter((q) => q.expr.includes('custody_proxy_request_duration_seconds_bucket'));
  for (const quantile of ['0.5', '0.99']) t.ok(latency.some((q) => q.expr.startsWith(`histogram_quantile(${quantile},`)), `p${Number(quantile) * 100}`);
});

t.test('panels for abuse protection (§5, §6, §13) and key lifecycle (§8)', async (t) => {
  const read = new Set(panelQueries(dashboard).flatMap((q) => metricNames(q.expr)));
  for (const metric of [
    'custody_proxy_rate_limit_refusals_total',
    'custody_proxy_browser_refusals_total',
    'custody_proxy_report_only_denials_total',
    'custody_proxy_credentials_expiring',
    'custody_proxy_credentials_rotation_due',
  ]) {
    t.ok(read.has(metric), metric);
  }
});

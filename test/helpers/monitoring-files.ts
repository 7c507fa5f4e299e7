// The monitoring files under deploy/ as the tests read them: the Grafana dashboard's panels and their
// PromQL (with Grafana's variables replaced the way Grafana would for one job and every replica), the
// alert rules, and the metric names either one refers to.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const ALERTS_FILE = `${ROOT}deploy/prometheus/alerts.yaml`;
export const ALERTS_TEST_FILE = `${ROOT}deploy/prometheus/alerts.test.yaml`;
export const DASHBOARD_FILE = `${ROOT}deploy/grafana/custody-proxy.json`;

export interface PanelTarget {
  readonly datasource?: { readonly type?: string; readonly uid?: string };
  readonly expr?: string;
  readonly refId?: string;
}

export interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly datasource?: { readonly type?: string; readonly uid?: string };
  readonly gridPos: { readonly h: number; readonly w: number; readonly x: number; readonly y: number };
  readonly targets?: readonly PanelTarget[];
}

export interface Dashboard {
  readonly schemaVersion: number;
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly Panel[];
  readonly templating: { readonly list: ReadonlyArray<{ readonly name: string; readonly type: string; readonly query: unknown }> };
}

export function readDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
}

export interface PanelQuery {
  readonly panel: string;
  readonly refId: string;
  readonly expr: string;
}

/** Every target expression of every panel (rows have none). */
export function panelQueries(d: Dashboard): PanelQuery[] {
  return d.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, refId: t.refId ?? '?', expr: t.expr ?? '' })));
}

/**
 * Grafana's variables as Grafana fills them for one job and "All" replicas; $__rate_interval as it
 * computes it for a 15 s scrape interval (4 × 15 s).
 */
export function substituteVariables(expr: string, job: string): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$job', job)
    .replaceAll('$instance', '.*');
}

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

export function readAlertRules(): AlertRule[] {
  const doc = parse(readFileSync(ALERTS_FILE, 'utf8')) as { groups: Array<{ rules: AlertRule[] }> };
  return doc.groups.flatMap((g) => g.rules);
}

/** Metric names (custody_proxy_*, process_*, nodejs_*) an expression reads. */
export function metricNames(expr: string): string[] {
  return [...new Set(expr.match(/\b(?:custody_proxy|process|nodejs)_[a-z0-9_]+\b/g) ?? [])];
}

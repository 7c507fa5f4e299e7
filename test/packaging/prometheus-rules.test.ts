// The alert rules (deploy/prometheus/alerts.yaml, issue 16): the real promtool accepts them and passes
// their unit tests, and those unit tests cover every alert both ways (a series that fires it, a
// healthy one that keeps it quiet). Every alert says how bad it is and what to check.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { ALERTS_FILE, ALERTS_TEST_FILE, readAlertRules } from '../helpers/monitoring-files.js';

function promtool(args: string[]): { status: number | null; output: string; missing: boolean } {
  const r = spawnSync('promtool', args, { cwd: path.dirname(ALERTS_FILE), encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}`, missing: r.error !== undefined };
}

interface RuleTest {
  readonly alertname: string;
  readonly exp_alerts?: readonly unknown[];
}

/** alertname → [tests expecting it to fire, tests expecting it quiet] */
function coverage(): Map<string, { fires: number; quiet: number }> {
  const doc = parse(readFileSync(ALERTS_TEST_FILE, 'utf8')) as { tests: Array<{ alert_rule_test?: RuleTest[] }> };
  const out = new Map<string, { fires: number; quiet: number }>();
  for (const test of doc.tests) {
    for (const rt of test.alert_rule_test ?? []) {
      const c = out.get(rt.alertname) ?? { fires: 0, quiet: 0 };
      if ((rt.exp_alerts ?? []).length > 0) c.fires++;
      else c.quiet++;
      out.set(rt.alertname, c);
    }
  }
  return out;
}

const check = promtool(['check', 'rules', path.basename(ALERTS_FILE)]);
if (check.missing) {
  t.fail('promtool is not installed: apt-get install prometheus (.ci/run installs it)');
} else {
  t.test('promtool check rules accepts alerts.yaml', async (t) => {
    t.equal(check.status, 0, check.output);
  });

  t.test('promtool test rules passes alerts.test.yaml', async (t) => {
    const r = promtool(['test', 'rules', path.basename(ALERTS_TEST_FILE)]);
    t.equal(r.status, 0, r.output);
  });
}

t.test('every alert has a firing and a quiet unit test', async (t) => {
  const rules = readAlertRules();
  const tested = coverage();
  t.ok(rules.length >= 8, `${rules.length} alerts`);
  for (const rule of rules) {
    const c = tested.get(rule.alert);
    t.ok(c !== undefined && c.fires > 0, `${rule.alert}: a series that fires it`);
    t.ok(c !== undefined && c.quiet > 0, `${rule.alert}: a healthy series that keeps it quiet`);
  }
  for (const name of tested.keys()) t.ok(rules.some((r) => r.alert === name), `${name} is tested and exists`);
});

t.test('every alert has a severity, a summary and a description saying what to check', async (t) => {
  for (const rule of readAlertRules()) {
    t.match(rule.labels?.['severity'], /^(critical|warning)$/, `${rule.alert} severity`);
    t.ok((rule.annotations?.['summary'] ?? '').length > 0, `${rule.alert} summary`);
    t.match(rule.annotations?.['description'] ?? '', /\b(check|reconcile|compare)\b/i, `${rule.alert} description says what to check`);
  }
});

t.test('the issue 16 alerts are all there, on counters read through increase() or rate()', async (t) => {
  const rules = readAlertRules();
  const reading = (metric: string) => rules.filter((r) => r.expr.includes(metric));
  for (const metric of [
    'custody_proxy_auth_failures_total',
    'custody_proxy_credential_reloads_total',
    'custody_proxy_credential_last_reload_timestamp_seconds',
    'custody_proxy_idempotency_store_up',
    'custody_proxy_idempotency_store_losses_total',
    'custody_proxy_request_duration_seconds_bucket',
  ]) {
    t.ok(reading(metric).length > 0, `an alert reads ${metric}`);
  }
  t.ok(rules.some((r) => /outcome=~"[^"]*UPSTREAM_UNAVAILABLE/.test(r.expr)), 'an alert on upstream error outcomes');
  t.ok(rules.some((r) => r.expr.includes('status_class="5xx"')), 'an alert on the 5xx ratio');
  for (const rule of rules) {
    // A bare counter compared with a threshold fires on a replica's lifetime total, and never resets.
    for (const m of rule.expr.matchAll(/\b(custody_proxy_[a-z_]+_total)\b(\{[^}]*\})?(\[[^\]]+\])?/g)) {
      t.ok(m[3] !== undefined, `${rule.alert}: ${m[1]} is read over a range (increase/rate)`);
    }
  }
});

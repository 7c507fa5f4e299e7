// Node process metrics from prom-client (process_*, nodejs_*) and custody_proxy_build_info, the
// constant series that says which version a replica runs (SPEC §11 rev 2).
import { readFileSync } from 'node:fs';
import { Gauge, collectDefaultMetrics, type Registry } from 'prom-client';

// prom-client exports these totals as gauges named *_total, which `promtool check metrics` refuses
// (prometheus/client_js#283). The per-type gauges without the suffix stay (nodejs_active_handles{type}
// etc.): sum() over them is the same total.
const NONCONFORMING = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of NONCONFORMING) registry.removeSingleMetric(name);
}

/** package.json's version: src/telemetry and dist/telemetry are both two folders below it. */
export function packageVersion(): string {
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  const version: unknown = (JSON.parse(text) as { version?: unknown }).version;
  if (typeof version !== 'string') throw new Error('package.json: version is not a string');
  return version;
}

export function registerBuildInfo(registry: Registry): void {
  const info = new Gauge({
    name: 'custody_proxy_build_info',
    help: 'Always 1; the version label says which custody-proxy release this replica runs',
    labelNames: ['version'] as const,
    registers: [registry],
  });
  info.set({ version: packageVersion() }, 1);
}

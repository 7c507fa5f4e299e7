// The request-path metric families print exactly what prom-client's own Counter and Histogram print for
// the same updates (so /metrics is unchanged), and getMetricsAsJSON sees the same values.
import t from 'tap';
import { Counter, Histogram, Registry } from 'prom-client';
import { RequestCounter, RequestHistogram } from '../../../src/telemetry/request-metrics.js';

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
// on a bound, between bounds, below the first, above the last, zero
/** prom-client's JSON also carries `exemplar: null` on histogram values; there are no exemplars here. */
const withoutExemplars = (json: unknown): unknown => JSON.parse(JSON.stringify(json, (k, v: unknown) => (k === 'exemplar' ? undefined : v)));

const VALUES = [0.001, 0.0011, 0.0004, 31, 0, 0.3, 2.5, 12, 0.0099999];

t.test('histogram: same text and JSON as prom-client for the same observations', async (t) => {
  const theirs = new Registry();
  const ours = new Registry();
  const h = new Histogram({ name: 'x_seconds', help: 'Some "help" \\ text', labelNames: ['outcome'], buckets: BUCKETS, registers: [theirs] });
  const r = new RequestHistogram('x_seconds', 'Some "help" \\ text', 'outcome', BUCKETS, ours);
  for (const [i, v] of VALUES.entries()) {
    const outcome = i % 3 === 0 ? 'ok' : i % 3 === 1 ? 'UNAUTHORIZED' : 'we"ird\\label';
    h.labels({ outcome }).observe(v);
    r.observe(outcome, v);
  }
  t.equal(await ours.metrics(), await theirs.metrics());
  t.same(withoutExemplars(await ours.getMetricsAsJSON()), withoutExemplars(await theirs.getMetricsAsJSON()));
  ours.resetMetrics();
  theirs.resetMetrics();
  t.equal(await ours.metrics(), await theirs.metrics(), 'reset empties both');
});

t.test('counter: same text and JSON as prom-client for the same increments', async (t) => {
  const theirs = new Registry();
  const ours = new Registry();
  const c = new Counter({ name: 'x_total', help: 'Requests', labelNames: ['outcome', 'status_class'], registers: [theirs] });
  const r = new RequestCounter('x_total', 'Requests', ['outcome', 'status_class'], ours);
  const updates: Array<[string, string]> = [['ok', '2xx'], ['ok', '2xx'], ['FORBIDDEN', '4xx'], ['ok', '5xx'], ['UNAUTHORIZED', '4xx'], ['ok', '2xx']];
  for (const [outcome, cls] of updates) {
    c.labels({ outcome, status_class: cls }).inc();
    r.inc(outcome, cls);
  }
  t.equal(await ours.metrics(), await theirs.metrics());
  t.same(await ours.getMetricsAsJSON(), await theirs.getMetricsAsJSON());
  t.match(await ours.metrics(), /x_total\{outcome="ok",status_class="2xx"\} 3\n/);
});

t.test('a second family with the same name in one registry is refused, as prom-client does', async (t) => {
  const reg = new Registry();
  new RequestCounter('dup_total', 'h', ['a', 'b'], reg);
  t.throws(() => new Counter({ name: 'dup_total', help: 'h', registers: [reg] }), /already been registered/);
});

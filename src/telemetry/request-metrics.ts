// The per-request metric families: a counter and histograms whose update is an array increment.
// prom-client's labels().inc()/observe() rebuild, validate and hash the label set on every call (about
// 0.8 µs for one request's three updates with warm caches, measured), so the request path keeps its
// counts here and prom-client reads them at scrape time through the same get() it calls on its own
// metrics: registry.metrics() prints them exactly as it would print a prom-client Counter or Histogram.
import type { Metric, Registry } from 'prom-client';

type Labels = Readonly<Record<string, string>>;

interface ValuePair {
  readonly labels: Readonly<Record<string, string | number>>;
  /** printed after `labels`, as prom-client's histograms put `le` before the series' own labels */
  readonly sharedLabels?: Labels;
  readonly value: number;
  readonly metricName?: string;
}

interface Exported {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
  readonly values: ValuePair[];
  readonly aggregator: 'sum';
}

/** What registry.metrics() needs of a metric (prom-client's own classes are one implementation). */
abstract class ScrapedFamily {
  abstract readonly name: string;
  protected register(registry: Registry): void {
    // prom-client types registerMetric for its own classes only; at run time it needs name, get and reset.
    registry.registerMetric(this as unknown as Metric);
  }
  /** What registry.metrics() prints. */
  abstract getForPromString(): Promise<Exported>;
  /** The same with each value's labels merged (registry.getMetricsAsJSON()). */
  async get(): Promise<Exported> {
    const e = await this.getForPromString();
    return { ...e, values: e.values.map((v) => ({ labels: { ...v.labels, ...v.sharedLabels }, value: v.value, ...(v.metricName ? { metricName: v.metricName } : {}) })) };
  }
  abstract reset(): void;
}

/** Series looked up by up to two label values without building a key string per request; listed in
 * the order they were first used, as prom-client lists them. */
class SeriesTable<S> {
  private readonly byFirst = new Map<string, Map<string, S>>();
  private list: S[] = [];
  constructor(private readonly make: (first: string, second: string) => S) {}

  get(first: string, second = ''): S {
    let inner = this.byFirst.get(first);
    if (!inner) this.byFirst.set(first, (inner = new Map()));
    let s = inner.get(second);
    if (s === undefined) {
      inner.set(second, (s = this.make(first, second)));
      this.list.push(s);
    }
    return s;
  }

  all(): readonly S[] {
    return this.list;
  }

  clear(): void {
    this.byFirst.clear();
    this.list = [];
  }
}

interface CounterSeries {
  readonly labels: Labels;
  value: number;
}

export class RequestCounter extends ScrapedFamily {
  private readonly series: SeriesTable<CounterSeries>;

  constructor(
    readonly name: string,
    readonly help: string,
    labelNames: readonly [string, string],
    registry: Registry,
  ) {
    super();
    this.series = new SeriesTable((a, b) => ({ labels: { [labelNames[0]]: a, [labelNames[1]]: b }, value: 0 }));
    this.register(registry);
  }

  /** `by` 0 creates the series at 0 (exported before its first event). */
  inc(first: string, second: string, by = 1): void {
    this.series.get(first, second).value += by;
  }

  getForPromString(): Promise<Exported> {
    const values = this.series.all().map((s) => ({ labels: s.labels, value: s.value }));
    return Promise.resolve({ name: this.name, help: this.help, type: 'counter', values, aggregator: 'sum' });
  }

  reset(): void {
    this.series.clear();
  }
}

interface HistogramSeries {
  readonly labels: Labels;
  /** per bucket, not cumulative; the last slot counts values above the largest bound */
  readonly counts: Float64Array;
  sum: number;
}

export class RequestHistogram extends ScrapedFamily {
  private readonly series: SeriesTable<HistogramSeries>;

  constructor(
    readonly name: string,
    readonly help: string,
    labelName: string,
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    super();
    this.series = new SeriesTable((value) => ({ labels: { [labelName]: value }, counts: new Float64Array(bounds.length + 1), sum: 0 }));
    this.register(registry);
  }

  /** As prom-client: a value lands in the first bucket whose bound is ≥ it. */
  observe(labelValue: string, value: number): void {
    const s = this.series.get(labelValue);
    const { bounds } = this;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    s.counts[i] = (s.counts[i] ?? 0) + 1;
    s.sum += value;
  }

  getForPromString(): Promise<Exported> {
    const values: ValuePair[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.series.all()) {
      let cumulative = 0;
      const shared = s.labels;
      this.bounds.forEach((le, i) => {
        cumulative += s.counts[i] ?? 0;
        values.push({ labels: { le }, sharedLabels: shared, value: cumulative, metricName: bucket });
      });
      const count = cumulative + (s.counts[this.bounds.length] ?? 0);
      values.push({ labels: { le: '+Inf' }, sharedLabels: shared, value: count, metricName: bucket });
      values.push({ labels: {}, sharedLabels: shared, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: {}, sharedLabels: shared, value: count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' });
  }

  reset(): void {
    this.series.clear();
  }
}

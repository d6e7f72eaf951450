import { Histogram, type MetricObjectWithValues, type MetricValueWithName, type Registry } from 'prom-client';

/** Records one value; bound to one label set. */
export type Observe = (value: number) => void;

/** The counts of one label set: per bucket (the last one is +Inf), and their sum. */
interface Series {
  readonly labels: Readonly<Record<string, string>>;
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * A prom-client histogram whose observations cost a bucket search and three additions. prom-client's own
 * `observe` builds and hashes a label object on every call, even on a bound child: about 0.6 µs, which on a master
 * doing 90,000 tasks a second was a tenth of its throughput. Here a label set is bound once ({@link bind}) and its
 * counts are turned into prom-client's format only when Prometheus scrapes.
 */
export class LeanHistogram<T extends string> extends Histogram<T> {
  private readonly bounds: readonly number[];
  private readonly series = new Map<string, Series>();
  private readonly metricName: string;
  private readonly helpText: string;

  constructor(options: {
    name: string;
    help: string;
    labelNames: readonly T[];
    buckets: readonly number[];
    registers: Registry[];
  }) {
    super({ ...options, buckets: [...options.buckets] });
    this.bounds = [...options.buckets].sort((a, b) => a - b);
    this.metricName = options.name;
    this.helpText = options.help;
  }

  /** A recorder for one label set; values that are not finite are ignored. */
  bind(labels: Record<T, string>): Observe {
    const key = JSON.stringify(labels);
    let series = this.series.get(key);
    if (!series) {
      series = { labels: { ...labels }, counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
      this.series.set(key, series);
    }
    const bounds = this.bounds;
    const { counts } = series;
    const bound = series;
    return (value) => {
      if (!Number.isFinite(value)) return;
      let bucket = 0;
      while (bucket < bounds.length && value > bounds[bucket]!) bucket++;
      counts[bucket]!++;
      bound.sum += value;
      bound.count++;
    };
  }

  override async get(): Promise<MetricObjectWithValues<MetricValueWithName<T>>> {
    const name = this.metricName;
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const { labels, counts, sum, count } of this.series.values()) {
      let cumulative = 0;
      this.bounds.forEach((bound, bucket) => {
        cumulative += counts[bucket]!;
        values.push({ labels: { le: bound, ...labels }, value: cumulative, metricName: `${name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', ...labels }, value: count, metricName: `${name}_bucket` });
      values.push({ labels, value: sum, metricName: `${name}_sum` });
      values.push({ labels, value: count, metricName: `${name}_count` });
    }
    // The shape prom-client's Histogram returns; its types have no room for the `le` label.
    const metric = { name, help: this.helpText, type: 'histogram', values, aggregator: 'sum' };
    return metric as unknown as MetricObjectWithValues<MetricValueWithName<T>>;
  }

  /** What the registry formats (prom-client's own reads its label map, which stays empty here). */
  async getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<T>>> {
    return this.get();
  }

  override reset(): void {
    super.reset();
    // prom-client's constructor calls reset() before this class's fields exist.
    for (const series of this.series?.values() ?? []) {
      series.counts.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }
}

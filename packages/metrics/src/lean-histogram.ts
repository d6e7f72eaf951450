import type { Histogram, MetricObjectWithValues, MetricValueWithName, Registry } from 'prom-client';
import type { HistogramCounts } from './histogram-counts.js';
import { promClient } from './prom-client.js';

/** What {@link leanHistogram} registers. */
export interface LeanHistogramOptions<T extends string> {
  name: string;
  help: string;
  labelNames: readonly T[];
  registers: Registry[];
}

/**
 * A prom-client histogram that shows `counts` (recorded without prom-client, see {@link HistogramCounts}): they are
 * turned into prom-client's values only when Prometheus scrapes, in the same exposition as prom-client's own. Counts
 * recorded before it was created are kept; `reset()` (a registry's `resetMetrics()`) zeroes them.
 */
export function leanHistogram<T extends string>(
  options: LeanHistogramOptions<T>,
  counts: HistogramCounts<T>,
): Histogram<T> {
  const { Histogram } = promClient();
  const { name, help } = options;

  class LeanHistogram extends Histogram<T> {
    /** Unset while prom-client's constructor runs: it calls reset(), which must not zero what was recorded. */
    private constructed?: true;

    constructor() {
      super({ ...options, labelNames: [...options.labelNames], buckets: [...counts.bounds] });
      this.constructed = true;
    }

    override async get(): Promise<MetricObjectWithValues<MetricValueWithName<T>>> {
      const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
      for (const { labels, counts: perBucket, sum, count } of counts.series()) {
        let cumulative = 0;
        counts.bounds.forEach((bound, bucket) => {
          cumulative += perBucket[bucket]!;
          values.push({ labels: { le: bound, ...labels }, value: cumulative, metricName: `${name}_bucket` });
        });
        values.push({ labels: { le: '+Inf', ...labels }, value: count, metricName: `${name}_bucket` });
        values.push({ labels, value: sum, metricName: `${name}_sum` });
        values.push({ labels, value: count, metricName: `${name}_count` });
      }
      // The shape prom-client's Histogram returns; its types have no room for the `le` label.
      const metric = { name, help, type: 'histogram', values, aggregator: 'sum' };
      return metric as unknown as MetricObjectWithValues<MetricValueWithName<T>>;
    }

    /** What the registry formats (prom-client's own reads its label map, which stays empty here). */
    async getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<T>>> {
      return this.get();
    }

    override reset(): void {
      super.reset();
      if (this.constructed) counts.reset();
    }
  }
  return new LeanHistogram();
}

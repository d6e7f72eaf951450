/** Records one value; bound to one label set. */
export type Observe = (value: number) => void;

/** The counts of one label set: per bucket (the last one is +Inf), their sum and their number. */
export interface Series<T extends string> {
  readonly labels: Readonly<Record<T, string>>;
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * A histogram's counts, without prom-client: recording a value costs a bucket search and three additions. prom-client's
 * own `observe` builds and hashes a label object on every call, even on a bound child (about 0.6 µs, which on a master
 * doing 90,000 tasks a second was a tenth of its throughput). A label set is bound once ({@link bind}); its counts
 * become prom-client's values only when Prometheus scrapes (see `leanHistogram`).
 */
export class HistogramCounts<T extends string> {
  /** Upper bounds of the buckets, ascending (without +Inf). */
  readonly bounds: readonly number[];
  private readonly byLabels = new Map<string, Series<T>>();

  constructor(buckets: readonly number[]) {
    this.bounds = [...buckets].sort((a, b) => a - b);
  }

  /** A recorder for one label set; values that are not finite are ignored. */
  bind(labels: Record<T, string>): Observe {
    const key = JSON.stringify(labels);
    let series = this.byLabels.get(key);
    if (!series) {
      series = { labels: { ...labels }, counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
      this.byLabels.set(key, series);
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

  /** Every label set bound so far. */
  series(): IterableIterator<Series<T>> {
    return this.byLabels.values();
  }

  /** Every count back to zero; bound recorders stay bound. */
  reset(): void {
    for (const series of this.byLabels.values()) {
      series.counts.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }
}

import { type Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HistogramCounts } from '../src/histogram-counts.js';
import { leanHistogram } from '../src/lean-histogram.js';

function histogram(registry: Registry, counts: HistogramCounts<'queue'>): Histogram<'queue'> {
  return leanHistogram(
    { name: 'test_seconds', help: 'a test histogram', labelNames: ['queue'], registers: [registry] },
    counts,
  );
}

describe('leanHistogram', () => {
  it('reports cumulative buckets, +Inf, sum and count in the Prometheus text format', async () => {
    const registry = new Registry();
    const counts = new HistogramCounts<'queue'>([0.1, 1, 0.01]); // unsorted on purpose
    histogram(registry, counts);
    const observe = counts.bind({ queue: 'a' });
    for (const value of [0.005, 0.01, 0.05, 0.5, 2, Number.NaN, Number.POSITIVE_INFINITY]) observe(value);
    const text = await registry.metrics();
    expect(text).toContain('# TYPE test_seconds histogram');
    expect(text).toContain('test_seconds_bucket{le="0.01",queue="a"} 2');
    expect(text).toContain('test_seconds_bucket{le="0.1",queue="a"} 3');
    expect(text).toContain('test_seconds_bucket{le="1",queue="a"} 4');
    expect(text).toContain('test_seconds_bucket{le="+Inf",queue="a"} 5');
    expect(text).toContain('test_seconds_sum{queue="a"} 2.565');
    expect(text).toContain('test_seconds_count{queue="a"} 5');
  });

  it('keeps what was recorded before it was created', async () => {
    const counts = new HistogramCounts<'queue'>([0.1, 1]);
    counts.bind({ queue: 'a' })(0.5);
    const registry = new Registry();
    histogram(registry, counts);
    counts.bind({ queue: 'a' })(0.05);
    const text = await registry.metrics();
    expect(text).toContain('test_seconds_bucket{le="0.1",queue="a"} 1');
    expect(text).toContain('test_seconds_count{queue="a"} 2');
  });

  it('keeps label sets apart, binds the same set to the same counts, and resets to zero', async () => {
    const registry = new Registry();
    const counts = new HistogramCounts<'queue'>([0.1, 1, 0.01]);
    const metric = histogram(registry, counts);
    counts.bind({ queue: 'a' })(0.2);
    counts.bind({ queue: 'a' })(0.3);
    counts.bind({ queue: 'b' })(5);
    let text = await registry.metrics();
    expect(text).toContain('test_seconds_count{queue="a"} 2');
    expect(text).toContain('test_seconds_count{queue="b"} 1');
    const [json] = (await registry.getMetricsAsJSON()) as unknown as [{ values: { metricName: string }[] }];
    expect(json.values.filter((value) => value.metricName === 'test_seconds_count')).toHaveLength(2);
    metric.reset();
    text = await registry.metrics();
    expect(text).toContain('test_seconds_count{queue="a"} 0');
    expect(text).toContain('test_seconds_bucket{le="+Inf",queue="b"} 0');
  });
});

import { describe, expect, it } from 'vitest';
import { throughputSvg } from '../dist/chart.js';
import { bucketRates, recoveryMs } from '../dist/throughput.js';

/** Result times: `perBucket[k]` results spread over the k-th 250 ms bucket. */
function timesOf(perBucket: number[]): number[] {
  return perBucket.flatMap((count, bucket) =>
    Array.from({ length: count }, (_, n) => bucket * 250 + Math.floor((n * 250) / count)),
  );
}

describe('throughput and recovery', () => {
  it('counts results per 250 ms bucket as results/s', () => {
    expect(bucketRates(timesOf([10, 0, 5]))).toEqual([40, 0, 20]);
  });

  it('measures recovery from the end of a fault to the first bucket back at half the earlier rate', () => {
    // 100 per bucket, a fault over buckets 4-5 (1000-1500 ms), a dip until bucket 8, back at 60.
    const times = timesOf([100, 100, 100, 100, 0, 0, 10, 20, 60, 100]);
    const total = times.length;
    expect(recoveryMs(times, [{ label: 'cut', start: 1000, end: 1500 }], total, total)).toBe(500);
  });

  it('takes the rate from the first result on, not from the seconds the processes took to start', () => {
    const times = timesOf([0, 0, 0, 0, 100, 100, 100, 100, 0, 10, 100]);
    // Fault over bucket 8 (2000-2250 ms): back at full rate in bucket 10, 250 ms after its end.
    expect(recoveryMs(times, [{ label: 'stall', start: 2000, end: 2250 }], times.length, times.length)).toBe(
      250,
    );
  });

  it('says never when results stopped while tasks were missing', () => {
    const times = timesOf([100, 100, 100, 100, 5]);
    const faults = [{ label: 'broker down', start: 1000, end: 1100 }];
    expect(recoveryMs(times, faults, times.length + 50, times.length)).toBe(Number.POSITIVE_INFINITY);
    expect(recoveryMs(times, [], times.length, times.length)).toBeUndefined();
  });

  it('draws a step line with the fault windows shaded and labelled, escaped', () => {
    const svg = throughputSvg('kill <tcp>', timesOf([4, 8, 2]), [
      { label: 'SIGKILL & restart', start: 250, end: 400 },
    ]);
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg).toContain('kill &lt;tcp&gt;');
    expect(svg).toContain('<title>SIGKILL &amp; restart</title>');
    const points = /<polyline [^>]*points="([^"]+)"/.exec(svg)![1]!.split(' ');
    expect(points).toHaveLength(6); // two corners per bucket
    expect(svg.trim().endsWith('</svg>')).toBe(true);
  });
});

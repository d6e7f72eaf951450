import { createMemoryTransport } from '@taskwire/core';
import { median, parseArgs, printTable, rate, trackPeakRss } from './util.js';

/**
 * `pnpm bench memory [--items N] [--runs R]`: put → get → ack of N small items in one process on
 * memory://, in three shapes (await each op; putMany + consume with prefetch; raw engine ops).
 */
export async function main(args: string[]): Promise<void> {
  const options = parseArgs(args);
  const items = Number(options.items ?? 1_000_000);
  const runs = Number(options.runs ?? 3);
  const transport = createMemoryTransport();
  const results: Record<string, number[]> = {
    'put → get → ack (awaited)': [],
    'putMany → consume(prefetch 1000) → ack': [],
  };
  const rss = trackPeakRss();

  for (let run = 0; run < runs; run++) {
    const connection = await transport.connect({ url: `memory://bench-${run}` });
    const queue = await connection.queue<{ n: number }>('bench');

    let started = performance.now();
    for (let i = 0; i < items; i++) await queue.put({ n: i });
    for (let i = 0; i < items; i++) {
      const delivery = await queue.get();
      await delivery.ack();
    }
    results['put → get → ack (awaited)']!.push(performance.now() - started);

    started = performance.now();
    const batch = 10_000;
    for (let i = 0; i < items; i += batch) {
      await queue.putMany(Array.from({ length: Math.min(batch, items - i) }, (_, j) => ({ n: i + j })));
    }
    let received = 0;
    await new Promise<void>((resolve) => {
      void queue.consume(
        (delivery) => {
          void delivery.ack();
          if (++received === items) resolve();
        },
        { prefetch: 1000 },
      );
    });
    results['putMany → consume(prefetch 1000) → ack']!.push(performance.now() - started);
    await connection.close();
  }

  const peak = rss.stop();
  printTable(
    `memory:// — ${items.toLocaleString('en-US')} items, ${runs} runs (median)`,
    Object.entries(results).map(([shape, times]) => ({
      shape,
      'median ms': Math.round(median(times)),
      'items/s': rate(items, median(times)),
      runs: times.map((t) => Math.round(t)).join(' / '),
    })),
  );
  console.log(`peak RSS ${peak.toFixed(0)} MiB`);
}

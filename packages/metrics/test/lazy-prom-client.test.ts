import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { createMemoryTransport, Master, Worker } from '@taskwire/core';
import { expect, it } from 'vitest';

/** Whether this process has loaded prom-client (this file imports nothing that does). */
function promClientLoaded(): boolean {
  return Object.keys(createRequire(import.meta.url).cache).some((path) =>
    /[\\/]prom-client[\\/]index\.js$/.test(path),
  );
}

/** The value of the sample `name` with `labels` in the Prometheus text `text`. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}{`) && wanted.every((label) => l.includes(label)));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

it('serveMetrics loads prom-client at the first scrape, and shows what was counted before it', async () => {
  const { serveMetrics } = await import('../src/index.js');
  const connection = await createMemoryTransport().connect({
    url: `memory://metrics-lazy-${randomBytes(4).toString('hex')}`,
  });
  const queue = 'metrics-lazy';
  const master = await Master.start({ connection, queue, maxAttempts: 1 });
  const worker = await Worker.start({ connection, queue, handler: (n: number) => n * n });
  const metrics = await serveMetrics({ connection, queues: [queue], port: 0 });
  try {
    metrics.tasks.observeMaster(master);
    metrics.tasks.observeWorker(worker);
    await Promise.all([1, 2, 3].map((n) => master.submit(n)));
    expect(promClientLoaded()).toBe(false);

    const text = await (await fetch(metrics.url)).text();
    expect(promClientLoaded()).toBe(true);
    // Counted by the master (results) and the worker (tasks finished): one registry here.
    expect(sample(text, 'taskwire_tasks_completed_total', { queue })).toBe(6);
    expect(sample(text, 'taskwire_task_duration_seconds_count', { queue, outcome: 'completed' })).toBe(6);
    expect(sample(text, 'taskwire_workers', { queue })).toBe(1);
    expect(sample(text, 'taskwire_reconnects_total', { transport: 'memory' })).toBe(0);
  } finally {
    await metrics.close();
    await worker.stop();
    await master.close();
    await connection.close();
  }
});

import { randomBytes } from 'node:crypto';
import { type Connection, createMemoryTransport, Master, Worker } from '@taskwire/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type ServedMetrics, serveMetrics } from '../src/index.js';

/** The value of one sample of the Prometheus text `text`, or undefined when it has none. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return undefined;
}

async function scrape(url: string): Promise<string> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain');
  return response.text();
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function memoryConnection(): Promise<Connection> {
  const connection = await createMemoryTransport().connect({
    url: `memory://metrics-${randomBytes(4).toString('hex')}`,
  });
  cleanups.push(() => connection.close());
  return connection;
}

async function served(options: Parameters<typeof serveMetrics>[0]): Promise<ServedMetrics> {
  const metrics = await serveMetrics(options);
  cleanups.push(() => metrics.close());
  return metrics;
}

describe('metrics of a master and a worker (memory transport)', () => {
  it('counts tasks, times them, and follows queue depth and live workers', async () => {
    const connection = await memoryConnection();
    const queue = 'metrics-tasks';
    const master = await Master.start({ connection, queue, maxAttempts: 3 });
    cleanups.push(() => master.close());
    const masterMetrics = await served({ connection, queues: [queue], port: 0 });
    masterMetrics.tasks.observeMaster(master);
    expect(masterMetrics.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);

    let text = await scrape(masterMetrics.url);
    expect(sample(text, 'taskwire_workers', { queue })).toBe(0);
    expect(sample(text, 'taskwire_reconnects_total', { transport: 'memory' })).toBe(0);

    // Submitted before any worker runs: the queue holds them.
    const tasks = 20;
    const results = Promise.all(Array.from({ length: tasks }, (_, i) => master.submit(i)));
    await new Promise((resolve) => setTimeout(resolve, 50));
    text = await scrape(masterMetrics.url);
    expect(sample(text, 'taskwire_tasks_submitted_total', { queue })).toBe(tasks);
    const depth = (body: string) =>
      ['ready', 'delayed', 'queued'].reduce(
        (sum, state) => sum + (sample(body, 'taskwire_queue_depth', { queue, state }) ?? 0),
        0,
      );
    expect(depth(text)).toBe(tasks);

    // A worker whose first attempt at odd numbers fails: each is retried once.
    const tried = new Set<number>();
    const worker = await Worker.start({
      connection,
      queue,
      concurrency: 4,
      backoff: { baseMs: 1, maxMs: 5 },
      handler: (n: number) => {
        if (n % 2 === 1 && !tried.has(n)) {
          tried.add(n);
          throw new Error('first attempt fails');
        }
        return n * n;
      },
    });
    cleanups.push(() => worker.stop());
    const workerMetrics = await served({ connection, queues: [queue], port: 0, workers: false });
    workerMetrics.tasks.observeWorker(worker);
    expect((await results).every((result) => result.ok)).toBe(true);

    text = await scrape(masterMetrics.url);
    expect(sample(text, 'taskwire_tasks_completed_total', { queue })).toBe(tasks);
    expect(sample(text, 'taskwire_tasks_failed_total', { queue }) ?? 0).toBe(0);
    expect(sample(text, 'taskwire_task_duration_seconds_count', { queue, outcome: 'completed' })).toBe(tasks);
    expect(depth(text)).toBe(0);
    expect(sample(text, 'taskwire_workers', { queue })).toBe(1);

    const byWorker = await scrape(workerMetrics.url);
    expect(sample(byWorker, 'taskwire_tasks_completed_total', { queue })).toBe(tasks);
    expect(sample(byWorker, 'taskwire_tasks_retried_total', { queue, kind: 'default' })).toBe(tasks / 2);
    expect(sample(byWorker, 'taskwire_workers')).toBeUndefined();
  });

  it('counts failed tasks, and answers 404 off /metrics', async () => {
    const connection = await memoryConnection();
    const queue = 'metrics-failing';
    const master = await Master.start({ connection, queue, maxAttempts: 1 });
    cleanups.push(() => master.close());
    const worker = await Worker.start({
      connection,
      queue,
      handler: () => {
        throw new Error('always');
      },
    });
    cleanups.push(() => worker.stop());
    const metrics = await served({ connection, queues: [queue], port: 0 });
    metrics.tasks.observeMaster(master);
    metrics.tasks.observeWorker(worker);
    await Promise.all([master.submit(1), master.submit(2)]);
    // Counted once by the master (results received) and once by the worker (tasks finished): one registry here.
    const text = await scrape(metrics.url);
    expect(sample(text, 'taskwire_tasks_failed_total', { queue })).toBe(4);
    expect(sample(text, 'taskwire_task_duration_seconds_count', { queue, outcome: 'failed' })).toBe(4);
    expect((await fetch(metrics.url.replace('/metrics', '/other'))).status).toBe(404);
  });

  it('a port in use is refused, nothing left running', async () => {
    const connection = await memoryConnection();
    const first = await served({ connection, port: 0 });
    await expect(serveMetrics({ connection, port: first.port })).rejects.toThrow(/EADDRINUSE/);
  });
});

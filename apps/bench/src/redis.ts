import { randomBytes } from 'node:crypto';
import { createRedisTransport } from '@taskwire/transport-redis';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import {
  median,
  parseArgs,
  printTable,
  rate,
  startWorker,
  stopWorker,
  timeRoundTrip,
  trackPeakRss,
} from './util.js';

/**
 * `pnpm bench redis [--tasks 100000] [--runs 3] [--url redis://127.0.0.1:6379] [--prefetch 500] [--only taskwire|bullmq]`
 *
 * The same job on the same Redis, taskwire against BullMQ: the master puts `tasks` tiny tasks, a
 * worker process computes each and returns a result, the master reads every result back. Runs
 * alternate between the two; medians and the ratio are printed.
 */

type Implementation = 'taskwire' | 'bullmq';

interface Run {
  url: string;
  prefix: string;
  tasks: number;
  prefetch: number;
}

async function taskwireRun(run: Run): Promise<number> {
  const connection = await createRedisTransport().connect({ url: run.url, prefix: run.prefix });
  try {
    const tasks = await connection.queue<{ n: number }>('tasks');
    const results = await connection.queue<{ n: number; r: number }>('results');
    const worker = await startWorker('redis-worker.js', [
      run.url,
      run.prefix,
      'tasks',
      'results',
      String(run.prefetch),
    ]);
    const elapsed = await timeRoundTrip(tasks, results, run.tasks, 1000);
    await stopWorker(worker);
    return elapsed;
  } finally {
    await connection.close();
  }
}

async function bullmqRun(run: Run): Promise<number> {
  const connection = new Redis(run.url, { maxRetriesPerRequest: null });
  const queue = new Queue<{ n: number }>('tasks', { connection, prefix: run.prefix });
  const events = new QueueEvents('tasks', { connection: { url: run.url }, prefix: run.prefix });
  try {
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    const worker = await startWorker('bullmq-worker.js', [run.url, run.prefix, 'tasks', '100']);
    let received = 0;
    let finish: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    events.on('completed', () => {
      if (++received === run.tasks) finish();
    });
    const started = performance.now();
    const opts = { removeOnComplete: true, removeOnFail: true };
    for (let start = 0; start < run.tasks; start += 1000) {
      const end = Math.min(run.tasks, start + 1000);
      const jobs = [];
      for (let n = start; n < end; n++) jobs.push({ name: 'task', data: { n }, opts });
      await queue.addBulk(jobs);
    }
    await done;
    const elapsed = performance.now() - started;
    await stopWorker(worker);
    return elapsed;
  } finally {
    await events.close();
    await queue.close();
    connection.disconnect();
  }
}

/** Delete every key whose name contains `prefix` (taskwire's `{prefix:…}` and BullMQ's `prefix:…`). */
async function deleteKeys(url: string, prefix: string): Promise<void> {
  const client = new Redis(url);
  try {
    let cursor = '0';
    for (let round = 0; round < 100_000; round++) {
      const [next, keys] = await client.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await client.unlink(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
  } finally {
    client.disconnect();
  }
}

/** Run the benchmark. */
export async function main(args: string[]): Promise<void> {
  const options = parseArgs(args);
  const url = typeof options.url === 'string' ? options.url : 'redis://127.0.0.1:6379';
  const tasks = Number(options.tasks ?? 100_000);
  const runs = Number(options.runs ?? 3);
  const prefetch = Number(options.prefetch ?? 500);
  const base = `twbench-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const times: Record<Implementation, number[]> = { taskwire: [], bullmq: [] };
  const rss = trackPeakRss();
  try {
    for (let i = 0; i < runs; i++) {
      // Alternate which goes first, so neither always runs on a warmer (or more fragmented) Redis.
      const order: Implementation[] = i % 2 === 0 ? ['taskwire', 'bullmq'] : ['bullmq', 'taskwire'];
      for (const implementation of order) {
        if (options.only !== undefined && options.only !== implementation) continue;
        const run = { url, prefix: `${base}-${implementation}-${i}`, tasks, prefetch };
        const ms = implementation === 'taskwire' ? await taskwireRun(run) : await bullmqRun(run);
        times[implementation].push(ms);
        console.log(
          `${implementation} run ${i + 1}: ${tasks} tasks in ${ms.toFixed(0)} ms (${rate(tasks, ms)})`,
        );
        await deleteKeys(url, run.prefix);
      }
    }
  } finally {
    await deleteKeys(url, base);
  }
  const peakRss = rss.stop();
  if (options.only !== undefined) return;
  const taskwire = median(times.taskwire);
  const bullmq = median(times.bullmq);
  printTable(`Redis: ${tasks} tasks master → worker process → results, acked (median of ${runs})`, [
    {
      implementation: 'taskwire (prefetch ' + prefetch + ')',
      'median ms': Math.round(taskwire),
      rate: rate(tasks, taskwire),
    },
    {
      implementation: 'BullMQ (Worker concurrency 100)',
      'median ms': Math.round(bullmq),
      rate: rate(tasks, bullmq),
    },
  ]);
  console.log(
    `taskwire / BullMQ throughput: ${(bullmq / taskwire).toFixed(2)}×  (master peak RSS ${peakRss.toFixed(0)} MiB)`,
  );
}

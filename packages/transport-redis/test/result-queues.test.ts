import { randomBytes } from 'node:crypto';
import { Master, Worker } from '@taskwire/core';
import { describe, expect, it } from 'vitest';
import { shortLeaseRun } from './redis.js';

// One long-lived worker answering many short-lived masters, end to end through the task layer: once the masters
// are gone, nothing of their result queues may stay on Redis, and the worker must hold no handle to them.
// Heartbeats every 100 ms: a handle left open would write its lease back many times during the final wait.
const run = shortLeaseRun('lft-results', 300);
const { keysOf } = run;
/** Short idle close for the worker's result-queue handles. */
const IDLE_MS = 600;
const MASTERS = 5;
/** Longer than the lease TTL and the idle close (the sweep runs every IDLE_MS / 2) together, with margin. */
const SETTLE_MS = 2500;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const connect = (label: string) => run.connect(`lft-${label}-${randomBytes(3).toString('hex')}`);

/** How the masters of a run leave. */
type Departure =
  /** `Master.close()`: deletes the result queue and announces the departure to the workers. */
  | 'close'
  /**
   * The master deletes its result queue, then its process dies before it can announce anything: only the
   * worker's idle close can let go of the handle.
   */
  | 'dies-unannounced';

/**
 * Five masters, one after another, each on its own connection, each submitting and mapping tasks to the one
 * worker, then leaving as `departure` says. Resolves with the result queues they used.
 */
async function runMasters(worker: Worker, queue: string, departure: Departure): Promise<string[]> {
  const used: string[] = [];
  for (let index = 0; index < MASTERS; index++) {
    const connection = await connect(`master${index}`);
    const master = await Master.start({ connection, queue });
    used.push(master.resultQueueName);

    const single = await master.submit(index);
    expect(single).toMatchObject({ ok: true, value: index * 2, worker: worker.name });
    const values: number[] = [];
    for await (const result of master.map([1, 2, 3, 4, 5])) values.push(result.value as number);
    expect(values.sort((a, b) => a - b)).toEqual([2, 4, 6, 8, 10]);
    // The worker answered this master, so it holds a handle on its result queue right now.
    expect(worker.openResultQueues).toBeGreaterThanOrEqual(1);

    if (departure === 'close') {
      await master.close();
    } else {
      const results = await connection.queue(master.resultQueueName);
      await results.delete();
      await connection.close();
    }
  }
  return used;
}

async function expectNothingLeft(worker: Worker, resultQueues: string[]): Promise<void> {
  await sleep(SETTLE_MS);
  for (const name of resultQueues) expect({ name, keys: await keysOf(name) }).toEqual({ name, keys: [] });
  expect(worker.openResultQueues).toBe(0);
}

describe('redis: a long-lived worker leaves nothing of finished masters behind', () => {
  it('masters that close: no key of their result queues remains and the worker holds no handle', async () => {
    const queue = 'lft-tasks-close';
    const worker = await Worker.start({
      connection: await connect('worker-close'),
      queue,
      handler: (n: number) => n * 2,
      resultQueueIdleMs: IDLE_MS,
    });
    try {
      await expectNothingLeft(worker, await runMasters(worker, queue, 'close'));
    } finally {
      await worker.stop();
    }
  }, 30_000);

  it('masters that die without announcing: the idle close alone clears their handles and keys', async () => {
    const queue = 'lft-tasks-unannounced';
    const worker = await Worker.start({
      connection: await connect('worker-unannounced'),
      queue,
      handler: (n: number) => n * 2,
      resultQueueIdleMs: IDLE_MS,
    });
    try {
      await expectNothingLeft(worker, await runMasters(worker, queue, 'dies-unannounced'));
    } finally {
      await worker.stop();
    }
  }, 30_000);

  it("masters that close: their departure notices alone release the worker's handles, with no idle close", async () => {
    const queue = 'lft-tasks-departure';
    const worker = await Worker.start({
      connection: await connect('worker-departure'),
      queue,
      handler: (n: number) => n * 2,
      // Far longer than the test: only the departure notices can close the handles.
      resultQueueIdleMs: 10 * 60_000,
    });
    try {
      await expectNothingLeft(worker, await runMasters(worker, queue, 'close'));
    } finally {
      await worker.stop();
    }
  }, 30_000);
});

import { afterEach, describe, expect, it } from 'vitest';
import { type Connection, createMemoryTransport, DepartedMasters, Master, Worker } from '../src/index.js';

const transport = createMemoryTransport();
let engineCounter = 0;
const open: Connection[] = [];
afterEach(async () => {
  for (const connection of open.splice(0)) await connection.close();
});

async function connect(url: string) {
  const connection = await transport.connect({ url });
  open.push(connection);
  return connection;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a departed master', () => {
  it('its queued tasks are dropped by workers: not run, not answered, its result queue not recreated', async () => {
    const url = `memory://departure-${++engineCounter}`;
    const masterConnection = await connect(url);
    const master = await Master.start({ connection: masterConnection, queue: 'jobs' });
    const ran: number[] = [];
    const worker = await Worker.start({
      connection: await connect(url),
      queue: 'jobs',
      concurrency: 1,
      prefetch: 1,
      handler: async (n: number) => {
        ran.push(n);
        await sleep(20);
        return n;
      },
    });
    const results = master.map([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])[Symbol.asyncIterator]();
    await results.next(); // task 1 answered
    await master.close(); // leaves with tasks queued
    const ranAtClose = ran.length;
    await sleep(300);
    await worker.stop();
    expect(ran.length).toBeLessThanOrEqual(ranAtClose + 1); // at most the one in hand
    const tasks = await (await connect(url)).queue('jobs');
    expect(await tasks.size()).toBe(0); // dropped, acked
    const observer = await connect(url);
    const results2 = await observer.queue(master.resultQueueName);
    expect(await results2.size()).toBe(0);
  });

  it('DepartedMasters keeps the newest `limit` entries', () => {
    const departed = new DepartedMasters(2);
    departed.add('a');
    departed.add('b');
    departed.add('c');
    expect([departed.has('a'), departed.has('b'), departed.has('c')]).toEqual([false, true, true]);
  });
});

describe('Master.map over an input that trickles in', () => {
  it('submits what has arrived without waiting for a window of input', async () => {
    const url = `memory://trickle-${++engineCounter}`;
    const master = await Master.start({ connection: await connect(url) });
    const worker = await Worker.start({ connection: await connect(url), handler: (n: number) => n * 2 });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    async function* input() {
      yield 1;
      yield 2;
      await gate; // the rest has not arrived
      yield 3;
    }
    const seen: unknown[] = [];
    const job = (async () => {
      for await (const result of master.map(input(), { window: 1000 })) seen.push(result.value);
    })();
    for (let i = 0; i < 100 && seen.length < 2; i++) await sleep(10);
    expect(seen.sort()).toEqual([2, 4]);
    release();
    await job;
    expect(seen).toContain(6);
    await worker.stop();
    await master.close();
  });
});

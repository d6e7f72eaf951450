import { afterEach, describe, expect, it } from 'vitest';
import { type Connection, createMemoryTransport, Master, readTask, Worker } from '../src/index.js';

const transport = createMemoryTransport();
let engineCounter = 0;
const open: Connection[] = [];
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  for (const connection of open.splice(0)) await connection.close();
});

async function connect(url: string) {
  const connection = await transport.connect({ url });
  open.push(connection);
  return connection;
}

describe('a task that failed for good', () => {
  it('lies in the dead-letter queue with why it failed, and moved back it gets every attempt again', async () => {
    const url = `memory://dead-letter-${++engineCounter}`;
    let failing = true;
    const attempts: number[] = [];
    const worker = await Worker.start({
      connection: await connect(url),
      queue: 'jobs',
      backoff: { baseMs: 1, maxMs: 1 },
      handler: (n: number, { attempt }) => {
        attempts.push(attempt);
        if (failing) throw new TypeError(`bad input ${n}`, { cause: new Error('root cause') });
        return n * 2;
      },
    });
    stops.push(() => worker.stop());
    const master = await Master.start({ connection: await connect(url), queue: 'jobs', maxAttempts: 2 });
    stops.push(() => master.close());
    const result = await master.submit(21);
    expect(result.ok).toBe(false);

    const admin = await connect(url);
    const deadline = Date.now() + 5_000;
    while ((await admin.stats('jobs.dead')).ready < 1 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const [dead] = await admin.peek('jobs.dead');
    const task = readTask(dead!.body)!;
    expect(task.payload).toBe(21);
    expect(task.failure).toMatchObject({ name: 'TypeError', message: 'bad input 21' });
    expect(task.failure!.stack).toContain('bad input 21');
    expect(task.failure!.cause).toMatchObject({ message: 'root cause' });
    expect(task.priorAttempts).toBeUndefined();

    // Requeued from the dead-letter queue, it runs from attempt 1 again (its master already has a result for it
    // and keeps the first one).
    failing = false;
    attempts.length = 0;
    expect(await admin.moveItems('jobs.dead', 'jobs')).toBe(1);
    const rerunBy = Date.now() + 5_000;
    while (attempts.length === 0 && Date.now() < rerunBy)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(attempts).toEqual([1]);
  });
});

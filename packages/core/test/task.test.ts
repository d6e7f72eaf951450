import { describe, expect, it } from 'vitest';
import { Master, readTask, type TaskResult } from '../src/index.js';
import { memoryEngine } from '../src/subpath/engine.js';
import { sleep, taskHarness } from './task-harness.js';

const { backend, startWorker } = taskHarness('task');

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

describe('Master and Worker', () => {
  it('submit resolves with the result of the handler', async () => {
    const { connect } = await backend();
    await startWorker(await connect(), {});
    const master = await Master.start({ connection: await connect() });
    const result = await master.submit<number>(733);
    expect(result).toMatchObject({ ok: true, value: 537289, attempt: 1, payload: 733 });
    expect(result.worker).toMatch(/:\d+$/);
    expect(result.finishedAt).toBeGreaterThanOrEqual(result.startedAt);
  });

  it("close() deletes the master's result queue so a finished job leaves nothing behind", async () => {
    const { connect, url } = await backend();
    await startWorker(await connect(), {});
    const master = await Master.start({ connection: await connect() });
    expect(await master.submit(2)).toMatchObject({ value: 4 });
    const engine = memoryEngine(new URL(url).hostname);
    expect(engine.queueNames()).toContain(master.resultQueueName);
    await master.close();
    expect(engine.queueNames()).not.toContain(master.resultQueueName);
  });

  it('map streams a lazy input with at most `window` tasks outstanding', async () => {
    const { connect } = await backend();
    await startWorker(await connect(), { concurrency: 4 });
    const master = await Master.start({ connection: await connect() });
    let read = 0;
    function* numbers() {
      for (let i = 0; i < 3000; i++) {
        read++;
        yield i;
      }
    }
    let maxOutstanding = 0;
    let maxReadAhead = 0;
    let received = 0;
    const values = new Set<number>();
    for await (const result of master.map<number, number>(numbers(), { window: 50 })) {
      maxOutstanding = Math.max(maxOutstanding, master.outstanding);
      maxReadAhead = Math.max(maxReadAhead, read - received);
      received++;
      expect(result.value).toBe(result.payload! * result.payload!);
      values.add(result.payload!);
    }
    expect(received).toBe(3000);
    expect(values.size).toBe(3000);
    expect(maxOutstanding).toBeLessThanOrEqual(50);
    expect(maxReadAhead).toBeLessThanOrEqual(50);
  });

  it('retries a failing task with backoff, reporting the attempt that succeeded', async () => {
    const { connect } = await backend();
    const attempts: number[] = [];
    const started: number[] = [];
    await startWorker(await connect(), {
      backoff: { baseMs: 40 },
      handler: (n: number, ctx) => {
        attempts.push(ctx.attempt);
        started.push(Date.now());
        if (ctx.attempt < 3) throw new Error(`flaky ${ctx.attempt}`);
        return n + 1;
      },
    });
    const master = await Master.start({ connection: await connect(), maxAttempts: 5 });
    const result = await master.submit(1);
    expect(result).toMatchObject({ ok: true, value: 2, attempt: 3 });
    expect(attempts).toEqual([1, 2, 3]);
    // Backoff: ≥ half of 40 ms before the 2nd attempt, ≥ half of 80 ms before the 3rd.
    expect(started[1]! - started[0]!).toBeGreaterThanOrEqual(18);
    expect(started[2]! - started[1]!).toBeGreaterThanOrEqual(38);
  });

  it('after maxAttempts sends a failed result and dead-letters the task', async () => {
    const { connect } = await backend();
    await startWorker(await connect(), {
      backoff: { baseMs: 5 },
      handler: (n: number) => {
        if (n % 2) throw new RangeError(`odd input ${n}`);
        return n;
      },
    });
    const connection = await connect();
    const master = await Master.start({ connection, maxAttempts: 2 });
    const failedEvents: TaskResult[] = [];
    master.on('failed', (result) => failedEvents.push(result));
    const [ok, failed] = await Promise.all([master.submit(2), master.submit(3)]);
    expect(ok).toMatchObject({ ok: true, value: 2 });
    expect(failed).toMatchObject({
      ok: false,
      attempt: 2,
      error: { name: 'RangeError', message: 'odd input 3' },
    });
    expect(failedEvents).toHaveLength(1);
    const dead = await connection.queue('tasks.dead');
    const deadTask = await dead.get({ timeoutMs: 1000 });
    expect(readTask(deadTask.body)?.payload).toBe(3);
    expect(master.progress).toMatchObject({ submitted: 2, done: 1, failed: 1 });
  });

  it('dead-letters a message that is not a task and keeps working', async () => {
    const { connect } = await backend();
    const worker = await startWorker(await connect(), {});
    const poisoned: unknown[] = [];
    worker.on('poison', (delivery) => poisoned.push(delivery.body));
    const connection = await connect();
    const tasks = await connection.queue('tasks', { deadLetter: 'tasks.dead' });
    await tasks.put({ not: 'a task' });
    const master = await Master.start({ connection });
    expect(await master.submit(4)).toMatchObject({ ok: true, value: 16 });
    expect(poisoned).toEqual([{ not: 'a task' }]);
    const dead = await connection.queue('tasks.dead');
    expect((await dead.get({ timeoutMs: 1000 })).body).toEqual({ not: 'a task' });
  });

  it('an unknown task kind fails at once without retries', async () => {
    const { connect } = await backend();
    await startWorker(await connect(), { handler: { square: (n: number) => n * n } });
    const master = await Master.start({ connection: await connect(), maxAttempts: 5 });
    expect(await master.submit(3, { kind: 'square' })).toMatchObject({ ok: true, value: 9 });
    const result = await master.submit(3, { kind: 'cube' });
    expect(result).toMatchObject({ ok: false, attempt: 1, error: { name: 'UnknownKindError' } });
  });

  it('delivers a result that arrives twice only once', async () => {
    const { connect } = await backend();
    const connection = await connect();
    const master = await Master.start({ connection });
    const results = await connection.queue<TaskResult>(master.resultQueueName);
    const tasks = await connection.queue('tasks', { deadLetter: 'tasks.dead' });
    const done: TaskResult[] = [];
    master.on('done', (result) => done.push(result));
    const pending = master.submit(5);
    const task = await tasks.get({ timeoutMs: 1000 });
    const result = {
      taskId: readTask(task.body)!.id,
      ok: true,
      value: 25,
      worker: 'w',
      attempt: 1,
      startedAt: 1,
      finishedAt: 2,
    };
    await results.putMany([result, result]);
    expect(await pending).toMatchObject({ ok: true, value: 25 });
    await sleep(50);
    expect(done).toHaveLength(1);
  });

  it('many masters share one backend and each gets only its own results', async () => {
    const { connect } = await backend();
    await startWorker(await connect(), { concurrency: 8 });
    const one = await Master.start({ connection: await connect() });
    const two = await Master.start({ connection: await connect() });
    const [a, b] = await Promise.all([collect(one.map([1, 2, 3])), collect(two.map([10, 20, 30]))]);
    expect(a.map((r) => r.value).sort((x, y) => Number(x) - Number(y))).toEqual([1, 4, 9]);
    expect(b.map((r) => r.value).sort((x, y) => Number(x) - Number(y))).toEqual([100, 400, 900]);
  });

  it('stop() finishes running tasks, requeues fetched ones, and loses nothing', async () => {
    const { connect } = await backend();
    const slow = await startWorker(await connect(), {
      concurrency: 2,
      handler: async (n: number) => {
        await sleep(60);
        return n * 2;
      },
    });
    const master = await Master.start({ connection: await connect() });
    const all = Promise.all(Array.from({ length: 10 }, (_, i) => master.submit<number>(i)));
    await sleep(20);
    await slow.stop();
    await startWorker(await connect(), { handler: (n: number) => n * 2 });
    const results = await all;
    expect(results.map((r) => r.value)).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    expect(results.every((r) => r.ok)).toBe(true);
  });

  it('handleSignals: the first signal stops gracefully and exits 0, a second exits at once', async () => {
    const { connect } = await backend();
    const exits: number[] = [];
    const worker = await startWorker(await connect(), {
      handler: async (n: number) => {
        await sleep(100);
        return n;
      },
    });
    const before = process.listenerCount('SIGTERM');
    worker.handleSignals((code) => exits.push(code));
    const master = await Master.start({ connection: await connect() });
    const result = master.submit(1);
    await sleep(20);
    const listeners = process.listeners('SIGTERM').slice(before);
    for (const listener of listeners) (listener as () => void)();
    expect(exits).toEqual([]);
    for (const listener of listeners) (listener as () => void)();
    expect(exits).toEqual([130]);
    expect(await result).toMatchObject({ ok: true, value: 1 });
    await sleep(20);
    expect(exits).toEqual([130, 0]);
    for (const listener of listeners) process.off('SIGTERM', listener);
    for (const listener of process.listeners('SIGINT').slice(-listeners.length))
      process.off('SIGINT', listener);
  });

  it('broadcast runs the task on every worker', async () => {
    const { connect } = await backend();
    const ran: string[] = [];
    for (const name of ['w1', 'w2', 'w3']) {
      await startWorker(await connect(), {
        name,
        handler: (_: unknown, ctx) => {
          ran.push(`${ctx.worker}:${ctx.broadcast}`);
          return ctx.worker;
        },
      });
    }
    const master = await Master.start({ connection: await connect() });
    await master.broadcast('reload');
    for (let i = 0; i < 50 && ran.length < 3; i++) await sleep(10);
    expect(ran.sort()).toEqual(['w1:true', 'w2:true', 'w3:true']);
  });
});

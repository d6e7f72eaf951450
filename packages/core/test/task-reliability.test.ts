import { describe, expect, it } from 'vitest';
import { Master, readTask, type TaskContext, type TaskResult, Worker } from '../src/index.js';
import { ResultSender } from '../src/task/result-sender.js';
import { sleep, taskHarness } from './task-harness.js';

// Every task ends, once, with a result or a clear failure: the task layer under crashing, hanging and
// unencodable handlers, on the reference transport.

const { backend, startWorker } = taskHarness('reliability');

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

describe('a task whose worker dies while running it', () => {
  it('fails with WorkerLostError after maxAttempts lost attempts, is dead-lettered and never runs again', async () => {
    const { connect } = await backend();
    const master = await Master.start({ connection: await connect(), maxAttempts: 2 });
    const result = master.submit('poison');
    // Two workers each take the task and "crash": their connection goes away while the handler runs.
    for (let crash = 1; crash <= 2; crash++) {
      const connection = await connect();
      let started = false;
      await Worker.start({
        connection,
        handler: () => {
          started = true;
          return new Promise(() => undefined);
        },
      });
      await until(() => started);
      await connection.close();
    }
    let ran = 0;
    await startWorker(await connect(), {
      handler: () => {
        ran++;
        return 'ran';
      },
    });
    const final = await result;
    expect(final).toMatchObject({ ok: false, attempt: 2, error: { name: 'WorkerLostError' } });
    expect(final.error!.message).toMatch(/given up after 2 attempts \(maxAttempts 2\).*lost 2 times/);
    expect(ran).toBe(0);
    const dead = await (await connect()).queue('tasks.dead');
    expect(readTask((await dead.get({ timeoutMs: 1000 })).body)?.payload).toBe('poison');
  });
});

describe('a poison task that kills every worker running it', () => {
  it('fails alone: the tasks its workers held are run again and none is failed for it', async () => {
    const { connect } = await backend();
    const master = await Master.start({ connection: await connect(), maxAttempts: 2 });
    const results = Promise.all(
      ['poison', ...Array.from({ length: 40 }, (_, i) => i)].map((p) => master.submit(p)),
    );
    // A supervisor that restarts workers as they die, like systemd or Kubernetes would. (A dead worker's
    // connection is closed: afterEach needs no stop(), which would wait for the poison handler for ever.)
    let crashes = 0;
    for (let restart = 0; restart < 10; restart++) {
      const connection = await connect();
      const died = new Promise<void>((resolve) => {
        void Worker.start({
          connection,
          concurrency: 4,
          handler: async (payload: unknown) => {
            if (payload === 'poison') {
              crashes++;
              await sleep(5);
              await connection.close(); // the whole worker goes away, like process.exit
              resolve();
              return new Promise(() => undefined);
            }
            await sleep(1);
            return payload;
          },
        });
      });
      const done = results.then(() => undefined);
      await Promise.race([died, done]);
      if (await Promise.race([done.then(() => true), sleep(0).then(() => false)])) break;
    }
    const all = await results;
    const failed = all.filter((r) => !r.ok);
    expect(failed.map((r) => r.payload)).toEqual(['poison']);
    expect(failed[0]!.error).toMatchObject({ name: 'WorkerLostError' });
    expect(crashes).toBe(2);
    expect(all.filter((r) => r.ok)).toHaveLength(40);
  });
});

describe('a suspect and a hung task', () => {
  it('a task running for ever does not stop the worker: the suspect runs after isolationWaitMs', async () => {
    const { connect } = await backend();
    const master = await Master.start({ connection: await connect(), maxAttempts: 3 });
    // A delivery lost once: its worker's connection closes while the handler runs.
    const crashed = await connect();
    let started = false;
    await Worker.start({
      connection: crashed,
      concurrency: 1,
      prefetch: 1,
      handler: () => {
        started = true;
        return new Promise(() => undefined);
      },
    });
    const suspect = master.submit('suspect');
    await until(() => started);
    // The next worker is busy with a task that never ends (no timeout) when the suspect comes back. (Not
    // stopped in afterEach: stop() would wait for that task; closing its connection ends it.)
    let hung = false;
    await Worker.start({
      connection: await connect(),
      isolationWaitMs: 100,
      handler: (payload: unknown) => {
        if (payload === 'hang') {
          hung = true;
          return new Promise(() => undefined);
        }
        return `ran ${payload}`;
      },
    });
    void master.submit('hang');
    await until(() => hung);
    await crashed.close();
    expect(await suspect).toMatchObject({ ok: true, value: 'ran suspect', attempt: 2 });
    expect(await master.submit('after')).toMatchObject({ ok: true, value: 'ran after' });
  });
});

describe('a retry on a full bounded queue', () => {
  it('falls back to the requeue that never waits for room: the task still ends, once', async () => {
    const { connect } = await backend();
    const queueOptions = { maxsize: 1 };
    const failedOnce = new Set<unknown>();
    await startWorker(await connect(), {
      queueOptions,
      concurrency: 1,
      prefetch: 1,
      backoff: { baseMs: 5 },
      handler: (payload: string) => {
        if (payload === 'flaky' && !failedOnce.has(payload)) {
          failedOnce.add(payload);
          throw new Error('first attempt fails');
        }
        return payload;
      },
    });
    const master = await Master.start({ connection: await connect(), queueOptions, maxAttempts: 3 });
    // 'flaky' is in flight when it fails; 'other' fills the queue, so the retry copy finds no room.
    const [flaky, other] = await Promise.all([master.submit('flaky'), master.submit('other')]);
    expect(flaky).toMatchObject({ ok: true, value: 'flaky', attempt: 2 });
    expect(other).toMatchObject({ ok: true, value: 'other' });
  });
});

describe('a graceful stop', () => {
  it('gives back tasks it fetched but never started without spending an attempt', async () => {
    const { connect } = await backend();
    const slow = await startWorker(await connect(), {
      concurrency: 1,
      handler: async (n: number) => {
        await sleep(50);
        return n;
      },
    });
    const master = await Master.start({ connection: await connect(), maxAttempts: 1 });
    const all = Promise.all(Array.from({ length: 6 }, (_, i) => master.submit<number>(i)));
    await sleep(10);
    await slow.stop();
    await startWorker(await connect(), { handler: (n: number) => n });
    const results = await all;
    expect(results.map((r) => [r.ok, r.attempt])).toEqual(Array.from({ length: 6 }, () => [true, 1]));
  });
});

describe('results that cannot travel', () => {
  it('one unencodable result fails alone; the other tasks are unaffected and every delivery is settled', async () => {
    const { connect, engine } = await backend();
    const worker = await startWorker(await connect(), {
      handler: (n: number) => {
        if (n === 13) return Symbol('not encodable');
        if (n === 42) {
          const cyclic: Record<string, unknown> = {};
          cyclic.self = cyclic;
          return cyclic;
        }
        return n * 2;
      },
    });
    const master = await Master.start({ connection: await connect(), maxAttempts: 3 });
    const results: TaskResult[] = [];
    for await (const result of master.map(Array.from({ length: 100 }, (_, i) => i))) results.push(result);
    expect(results).toHaveLength(100);
    const failed = results.filter((r) => !r.ok);
    expect(failed.map((r) => r.payload).sort()).toEqual([13, 42]);
    for (const result of failed) {
      expect(result.error).toMatchObject({ name: 'ResultEncodingError', code: 'TASKWIRE_RESULT_ENCODING' });
      expect(result.attempt).toBe(1);
    }
    expect(results.filter((r) => r.ok).every((r) => r.value === (r.payload as number) * 2)).toBe(true);
    // Nothing left unsettled: the worker holds nothing, the task queue is empty, both failures dead-lettered.
    await until(() => worker.idleMs > 0 && engine.queue('tasks.dead').size === 2);
    expect(engine.queue('tasks').size).toBe(0);
  });

  it('a result over the size limit becomes a failed result naming the limit', async () => {
    const { connect } = await backend();
    await startWorker(await connect({ maxPayloadBytes: 1024 }), {
      handler: (n: number) => (n === 1 ? 'x'.repeat(4096) : 'small'),
    });
    const master = await Master.start({ connection: await connect() });
    const [big, small] = await Promise.all([master.submit(1), master.submit(2)]);
    expect(small).toMatchObject({ ok: true, value: 'small' });
    expect(big).toMatchObject({ ok: false, error: { name: 'ResultEncodingError' } });
    expect(big.error!.message).toMatch(/too large/);
  });
});

describe('timeouts', () => {
  it('a hung attempt times out, counts as failed, is retried with backoff, and its signal is aborted', async () => {
    const { connect } = await backend();
    const signals: AbortSignal[] = [];
    await startWorker(await connect(), {
      taskTimeoutMs: 60,
      backoff: { baseMs: 5 },
      handler: (_: unknown, context: TaskContext) => {
        signals.push(context.signal);
        return new Promise(() => undefined);
      },
    });
    const master = await Master.start({ connection: await connect(), maxAttempts: 2 });
    const result = await master.submit('hang');
    expect(result).toMatchObject({
      ok: false,
      attempt: 2,
      error: { name: 'TaskTimeoutError', code: 'TASKWIRE_TASK_TIMEOUT' },
    });
    expect(result.error!.message).toMatch(/timed out after 60 ms/);
    expect(signals).toHaveLength(2);
    expect(signals.every((signal) => signal.aborted)).toBe(true);
  });

  it("a task's own timeoutMs overrides the worker's, and a hung task does not hold its slot", async () => {
    const { connect } = await backend();
    await startWorker(await connect(), {
      concurrency: 1,
      taskTimeoutMs: 60_000,
      handler: (n: number) => (n === 0 ? new Promise(() => undefined) : n),
    });
    const master = await Master.start({ connection: await connect(), maxAttempts: 1 });
    const hung = master.submit(0, { timeoutMs: 50 });
    const after = master.submit(7);
    expect(await hung).toMatchObject({ ok: false, error: { name: 'TaskTimeoutError' } });
    expect(await after).toMatchObject({ ok: true, value: 7 });
  });

  it('refuses timeouts that are not whole milliseconds from 1 to 2³¹−1', async () => {
    const { connect } = await backend();
    const connection = await connect();
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 1.5, 2 ** 31]) {
      expect(() => new Worker({ connection, handler: () => 1, taskTimeoutMs: bad })).toThrow(RangeError);
    }
    const master = await Master.start({ connection });
    await expect(master.submit(1, { timeoutMs: 2 ** 31 })).rejects.toThrow(RangeError);
  });
});

describe('failed results', () => {
  it('carry the stack, the code and the cause chain', async () => {
    const { connect } = await backend();
    await startWorker(await connect(), {
      handler: () => {
        const root = Object.assign(new Error('disk full'), { code: 'ENOSPC' });
        throw new TypeError('could not save', { cause: root });
      },
    });
    const master = await Master.start({ connection: await connect(), maxAttempts: 1 });
    const result = await master.submit(1);
    expect(result.error).toMatchObject({
      name: 'TypeError',
      message: 'could not save',
      cause: { name: 'Error', message: 'disk full', code: 'ENOSPC' },
    });
    expect(result.error!.stack).toMatch(/TypeError: could not save\n\s+at /);
    expect(result.error!.cause!.stack).toMatch(/disk full/);
  });
});

describe('result queue handles', () => {
  it('a long-lived sender closes the handles of masters it no longer answers', async () => {
    const { connect, engine } = await backend();
    const sender = new ResultSender(await connect(), { idleCloseMs: 40 });
    const replyQueues = Array.from({ length: 5 }, (_, i) => `tasks.results.m${i}`);
    for (const replyTo of replyQueues) {
      const sent = await sender.send(replyTo, {
        taskId: `${replyTo}.1`,
        ok: true,
        value: 1,
        worker: 'w',
        attempt: 1,
        startedAt: 0,
        finishedAt: 0,
      });
      expect(sent.ok).toBe(true);
    }
    expect(sender.openQueues).toBe(5);
    for (const replyTo of replyQueues) engine.deleteQueue(replyTo);
    await until(() => sender.openQueues === 0, 2000);
    expect(engine.queueNames().filter((name) => name.startsWith('tasks.results.'))).toEqual([]);
    await sender.close();
  });
});

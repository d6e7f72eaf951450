import { fileURLToPath } from 'node:url';
import { threadId } from 'node:worker_threads';
import { ConfigError, createMemoryTransport, Master, type TaskContext, Worker } from '@taskwire/core';
import { afterEach, describe, expect, it } from 'vitest';
import { startThreadPool, type ThreadPoolHandler } from '../dist/thread-pool.js';

const HANDLER = fileURLToPath(new URL('./fixtures/thread-handlers.mjs', import.meta.url));
const KIND_HANDLERS = fileURLToPath(new URL('./fixtures/kind-handlers.mjs', import.meta.url));

const pools: ThreadPoolHandler[] = [];
afterEach(async () => {
  for (const pool of pools.splice(0)) await pool.close();
});

async function pool(spec: string, threads: number, onError?: (error: Error) => void) {
  const started = await startThreadPool(spec, { threads, onError });
  pools.push(started);
  return started;
}

function contextFor(kind = 'default', signal?: AbortSignal): TaskContext {
  const context = { taskId: 't1', kind, attempt: 1, maxAttempts: 1, worker: 'test', broadcast: false };
  return (signal ? { ...context, signal } : context) as TaskContext;
}

const asFunction = (handler: ThreadPoolHandler['handler']) => {
  if (typeof handler !== 'function') throw new Error('expected one handler for every kind');
  return handler;
};

describe('startThreadPool', () => {
  it('runs the handler in worker threads, off the main thread', async () => {
    const { handler, threads } = await pool(HANDLER, 2);
    const run = asFunction(handler);
    expect(threads).toBe(2);
    expect(await run(7, contextFor())).toBe(49);
    const ids = await Promise.all([1, 2, 3, 4].map(() => run({ threadId: true }, contextFor())));
    for (const id of ids) expect(id).not.toBe(threadId);
  });

  it('keeps the name, message, stack, code and cause of an error thrown in a thread', async () => {
    const run = asFunction((await pool(HANDLER, 1)).handler);
    const error = await Promise.resolve(run({ fail: 'bad input' }, contextFor())).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'ValidationError', message: 'bad input', code: 'E_VALIDATION' });
    expect((error as Error).stack).toContain('thread-handlers.mjs');
    expect((error as Error).cause).toMatchObject({ name: 'RangeError', message: 'out of range' });
  });

  it('an aborted signal terminates the thread running the task; the pool replaces it', async () => {
    const run = asFunction((await pool(HANDLER, 1)).handler);
    const controller = new AbortController();
    const reason = Object.assign(new Error('attempt timed out'), { name: 'TaskTimeoutError' });
    const spinning = Promise.resolve(run({ spin: true }, contextFor('default', controller.signal)));
    setTimeout(() => controller.abort(reason), 200);
    await expect(spinning).rejects.toBe(reason);
    // The only thread spun for ever: a later task runs only if that thread was replaced.
    expect(await run(5, contextFor())).toBe(25);
  });

  it('an error a thread throws outside any task is reported, and the pool replaces the thread', async () => {
    const errors: Error[] = [];
    const run = asFunction((await pool(HANDLER, 1, (error) => errors.push(error))).handler);
    expect(await run({ throwLater: 50 }, contextFor())).toBe('scheduled');
    const deadline = Date.now() + 5000;
    while (errors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(errors.map((e) => e.message)).toEqual(['thrown outside any task']);
    expect(await run(6, contextFor())).toBe(36);
  });

  it('a module exporting one handler per kind gives one thread-backed handler per kind', async () => {
    const { handler } = await pool(KIND_HANDLERS, 1);
    if (typeof handler === 'function') throw new Error('expected one handler per kind');
    expect(Object.keys(handler).sort()).toEqual(['double', 'negate']);
    expect(await handler.double!(21, contextFor('double'))).toBe(42);
    expect(await handler.negate!(21, contextFor('negate'))).toBe(-21);
  });

  it('a module that cannot load is a ConfigError', async () => {
    const error = await startThreadPool('./no/such/handler.mjs', { threads: 1 }).catch((e: Error) => e);
    expect(ConfigError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/cannot load handler/);
  });

  it('through a Worker: errors thrown in a thread arrive as failed results with their name, message, stack and code', async () => {
    const { handler } = await pool(HANDLER, 2);
    const connection = await createMemoryTransport().connect({
      url: `memory://iso-${Date.now().toString(36)}`,
    });
    const queue = `iso-errors-${Date.now().toString(36)}`;
    const worker = await Worker.start({ connection, handler, queue, concurrency: 2, backoff: { baseMs: 5 } });
    const master = await Master.start({ connection, queue, maxAttempts: 2 });
    try {
      const results = await Promise.all([master.submit({ fail: 'no good' }), master.submit(9)]);
      expect(results[0]).toMatchObject({
        ok: false,
        attempt: 2,
        error: {
          name: 'ValidationError',
          message: 'no good',
          code: 'E_VALIDATION',
          stack: expect.stringContaining('thread-handlers.mjs'),
          cause: { name: 'RangeError', message: 'out of range' },
        },
      });
      expect(results[1]).toMatchObject({ ok: true, value: 81 });
    } finally {
      await master.close();
      await worker.stop();
      await connection.close();
    }
  });
});

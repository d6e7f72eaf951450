import { describe, expect, it } from 'vitest';
import { Master } from '../src/index.js';
import { taskHarness } from './task-harness.js';

// Master.map() returns a hand-written async generator (no per-result promises of `async function*`): it must keep
// a generator's contract — lazy start, calls served in order, return() and throw() closing the input.
const { backend, startWorker } = taskHarness('task-map');

async function setup() {
  const { connect } = await backend();
  await startWorker(await connect(), {});
  return Master.start({ connection: await connect() });
}

/** An input that counts what was read and whether it was closed. */
function tracked(count: number) {
  const state = { read: 0, closed: false };
  const iterable: Iterable<number> = {
    [Symbol.iterator]: () => ({
      next: () =>
        state.read < count ? { value: ++state.read, done: false } : { value: undefined, done: true },
      return: () => {
        state.closed = true;
        return { value: undefined, done: true };
      },
    }),
  };
  return { iterable, state };
}

describe('Master.map', () => {
  it('reads nothing until the first next()', async () => {
    const master = await setup();
    const { iterable, state } = tracked(10);
    const results = master.map(iterable);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(state.read).toBe(0);
    expect(master.outstanding).toBe(0);
    expect((await results.next()).done).toBe(false);
    await results.return(undefined);
  });

  it('serves next() calls made at once in order, each with its own result, then done', async () => {
    const master = await setup();
    const results = master.map<number, number>([1, 2, 3]);
    const calls = await Promise.all([results.next(), results.next(), results.next(), results.next()]);
    expect(calls.slice(0, 3).every((call) => !call.done)).toBe(true);
    const values = calls.slice(0, 3).map((call) => (call.value as { value: number }).value);
    expect(values.sort((a, b) => a - b)).toEqual([1, 4, 9]);
    expect(calls[3]).toEqual({ value: undefined, done: true });
    expect(await results.next()).toEqual({ value: undefined, done: true });
  });

  it('break closes the input and reads no more of it', async () => {
    const master = await setup();
    const { iterable, state } = tracked(10_000);
    let received = 0;
    for await (const _result of master.map(iterable, { window: 20 })) {
      if (++received === 5) break;
    }
    expect(state.closed).toBe(true);
    expect(state.read).toBeLessThanOrEqual(20 + 5);
  });

  it('throw() closes the input and rejects with the error; the generator is done after it', async () => {
    const master = await setup();
    const { iterable, state } = tracked(100);
    const results = master.map(iterable, { window: 10 });
    await results.next();
    const error = new Error('stop');
    await expect(results.throw(error)).rejects.toBe(error);
    expect(state.closed).toBe(true);
    expect(await results.next()).toEqual({ value: undefined, done: true });
  });

  it('an abort stops reading input, and the tasks already submitted still yield their results', async () => {
    const master = await setup();
    const { iterable, state } = tracked(100_000);
    const controller = new AbortController();
    let received = 0;
    for await (const _result of master.map(iterable, { window: 8, signal: controller.signal })) {
      if (++received === 3) controller.abort();
    }
    expect(received).toBe(state.read);
    expect(state.read).toBeLessThan(100_000);
    expect(master.outstanding).toBe(0);
  });

  it('rejects a bad window on the first next(), submitting nothing', async () => {
    const master = await setup();
    const results = master.map([1, 2], { window: 0 });
    await expect(results.next()).rejects.toThrow(TypeError);
    expect(master.outstanding).toBe(0);
    expect(await results.next()).toEqual({ value: undefined, done: true });
  });

  it('streams an async input that trickles in', async () => {
    const master = await setup();
    async function* slow() {
      for (let i = 0; i < 5; i++) {
        await new Promise((resolve) => setTimeout(resolve, 2));
        yield i;
      }
    }
    const values: number[] = [];
    for await (const result of master.map<number, number>(slow(), { window: 2 })) values.push(result.value!);
    expect(values.sort((a, b) => a - b)).toEqual([0, 1, 4, 9, 16]);
  });
});

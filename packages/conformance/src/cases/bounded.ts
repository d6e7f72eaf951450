import { QueueFullError, UnsupportedError } from '@taskwire/core';
import { expect } from 'vitest';
import { drain, expectRejects } from '../assertions.js';
import { type BaseConformanceOptions, sleep, within } from '../context.js';
import { defineGroup } from '../define.js';

export function boundedQueueCases(options: BaseConformanceOptions): void {
  defineGroup(options, 'bounded queues', ({ test, caps, timing }) => {
    if (caps.maxsize) {
      test('a put on a full queue waits for room and then succeeds', async (ctx) => {
        const queue = await (await ctx.connect()).queue<number>(ctx.name('bounded'), { maxsize: 2 });
        await queue.put(1);
        await queue.put(2);
        let settled = false;
        const blocked = queue.put(3).then(() => {
          settled = true;
        });
        await sleep(timing.toleranceMs);
        expect(settled, 'put on a full queue must wait').toBe(false);
        const first = await queue.get({ timeoutMs: 5000 });
        await first.ack();
        await within(blocked, 5000, 'the blocked put to finish once room appeared');
        expect(await drain(queue, 2)).toEqual([2, 3]);
      });

      test('a put that cannot get room within timeoutMs rejects with QueueFullError', async (ctx) => {
        const queue = await (await ctx.connect()).queue<number>(ctx.name('bounded-timeout'), {
          maxsize: 1,
        });
        await queue.put(1);
        const started = Date.now();
        await expectRejects(queue.put(2, { timeoutMs: timing.delayMs }), QueueFullError);
        const waited = Date.now() - started;
        expect(waited).toBeGreaterThanOrEqual(timing.delayMs - 20);
        expect(waited).toBeLessThan(timing.delayMs + timing.toleranceMs * 3);
        expect(await queue.size()).toBe(1);
      });

      test('timeoutMs: 0 never waits', async (ctx) => {
        const queue = await (await ctx.connect()).queue<number>(ctx.name('bounded-nowait'), { maxsize: 1 });
        await queue.put(1, { timeoutMs: 0 });
        const started = Date.now();
        await expectRejects(queue.put(2, { timeoutMs: 0 }), QueueFullError);
        expect(Date.now() - started).toBeLessThan(timing.toleranceMs * 2);
      });
    } else {
      test('maxsize is refused with UnsupportedError', async (ctx) => {
        const connection = await ctx.connect();
        await expectRejects(connection.queue(ctx.name('bounded'), { maxsize: 2 }), UnsupportedError);
      });
    }
  });
}

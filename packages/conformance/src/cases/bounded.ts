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
      if (caps.delayed) {
        test('a delayed put that falls due while the queue is full waits for room, never dropped', async (ctx) => {
          const queue = await (await ctx.connect()).queue<string>(ctx.name('bounded-delayed-put'), {
            maxsize: 1,
          });
          await queue.put('a');
          // maxsize counts delayed items, so this put may wait for room; either way 'b' must arrive.
          const putLater = queue.put('b', { delayMs: timing.delayMs });
          putLater.catch(() => undefined);
          await sleep(timing.delayMs + timing.toleranceMs); // 'b' falls due while 'a' fills the queue
          const first = await queue.get({ timeoutMs: 5000 });
          expect(first.body).toBe('a');
          await first.ack();
          await within(putLater, 5000, 'the delayed put');
          const later = await queue.get({ timeoutMs: timing.delayMs + timing.toleranceMs * 10 });
          expect(later.body).toBe('b');
          await later.ack();
        });

        test('a delayed nack that falls due while the queue is full comes back, never dropped', async (ctx) => {
          const queue = await (await ctx.connect()).queue<string>(ctx.name('bounded-delayed-nack'), {
            maxsize: 1,
          });
          await queue.put('x');
          const held = await queue.get({ timeoutMs: 5000 });
          await queue.put('y'); // the queue is full again
          await held.nack({ requeue: true, delayMs: timing.delayMs });
          await sleep(timing.delayMs + timing.toleranceMs); // 'x' falls due while 'y' fills the queue
          const seen: { body: string; attempt: number }[] = [];
          for (let i = 0; i < 2; i++) {
            const delivery = await queue.get({ timeoutMs: timing.delayMs + timing.toleranceMs * 10 });
            seen.push({ body: delivery.body, attempt: delivery.attempt });
            await delivery.ack();
          }
          expect(seen.map((d) => d.body).sort()).toEqual(['x', 'y']);
          expect(seen.find((d) => d.body === 'x')?.attempt).toBe(2);
        });
      }
    } else {
      test('maxsize is refused with UnsupportedError', async (ctx) => {
        const connection = await ctx.connect();
        await expectRejects(connection.queue(ctx.name('bounded'), { maxsize: 2 }), UnsupportedError);
      });
    }
  });
}

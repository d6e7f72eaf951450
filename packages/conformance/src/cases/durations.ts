import { MAX_DURATION_MS, QueueEmptyError } from '@taskwire/core';
import { expect } from 'vitest';
import { expectRejects } from '../assertions.js';
import { type BaseConformanceOptions, sleep, within } from '../context.js';
import { defineGroup } from '../define.js';
import { LONG_DELAY_MS } from '../long-delay.js';

export function durationCases(options: BaseConformanceOptions): void {
  defineGroup(options, 'durations', ({ test, caps, timing }) => {
    const BAD_DURATIONS = [-1, Number.NaN, Number.POSITIVE_INFINITY, MAX_DURATION_MS + 1];

    /** Expect a RangeError whose message names `option`. */
    const expectRange = async (promise: Promise<unknown>, option: string) => {
      const error = await promise.then(
        () => undefined,
        (reason: unknown) => reason as Error,
      );
      expect(error, `expected a RangeError naming ${option}`).toBeInstanceOf(RangeError);
      expect(error!.message).toContain(option);
    };

    test('negative, NaN, infinite and too long durations are refused with RangeError', async (ctx) => {
      const connection = await ctx.connect();
      for (const bad of BAD_DURATIONS) {
        await expectRange(
          connection.queue(ctx.name('bad-visibility'), { visibilityTimeoutMs: bad }),
          'visibilityTimeoutMs',
        );
      }
      const queue = await connection.queue<string>(ctx.name('bad-durations'));
      for (const bad of BAD_DURATIONS) {
        await expectRange(queue.put('x', { timeoutMs: bad }), 'timeoutMs');
        await expectRange(queue.putMany(['x'], { timeoutMs: bad }), 'timeoutMs');
        await expectRange(queue.get({ timeoutMs: bad }), 'timeoutMs');
        if (caps.delayed) {
          await expectRange(queue.put('x', { delayMs: bad }), 'delayMs');
          await expectRange(queue.putMany(['x'], { delayMs: bad }), 'delayMs');
        }
      }
      expect(await queue.size()).toBe(0);
      await queue.put('held');
      const delivery = await queue.get({ timeoutMs: 5000 });
      if (caps.delayed) {
        for (const bad of BAD_DURATIONS) await expectRange(delivery.nack({ delayMs: bad }), 'delayMs');
      }
      // A refused nack settled nothing: the delivery is still ours to ack.
      await delivery.ack();
      await expectRejects(queue.get({ timeoutMs: timing.toleranceMs }), QueueEmptyError);
    });

    test('waits longer than 2^31 - 1 ms really wait (no timer overflow)', async (ctx) => {
      const overflows: Error[] = [];
      const onWarning = (warning: Error) => {
        if (warning.name === 'TimeoutOverflowWarning') overflows.push(warning);
      };
      process.on('warning', onWarning);
      try {
        const connection = await ctx.connect();
        const queue = await connection.queue<string>(ctx.name('long'), {
          visibilityTimeoutMs: LONG_DELAY_MS,
        });
        const waiting = queue.get({ timeoutMs: 2 ** 31 });
        let outcome = 'pending';
        waiting.then(
          () => {
            outcome = 'resolved';
          },
          (error: Error) => {
            outcome = `rejected: ${error.name}`;
          },
        );
        await sleep(timing.toleranceMs);
        expect(outcome, 'a get with timeoutMs 2^31 must still be waiting').toBe('pending');
        await queue.put('held');
        const held = await within(waiting, 5000, 'the long get to receive an item');
        // Its visibility timeout is 25 days: it must not come back now.
        await expectRejects(queue.get({ timeoutMs: timing.toleranceMs }), QueueEmptyError);
        if (caps.delayed) {
          await queue.put('later', { delayMs: LONG_DELAY_MS });
          await held.nack({ requeue: true, delayMs: LONG_DELAY_MS });
          await expectRejects(queue.get({ timeoutMs: timing.toleranceMs }), QueueEmptyError);
          expect(await queue.size()).toBe(2);
        } else {
          await held.ack();
        }
        if (caps.maxsize) {
          const bounded = await connection.queue<number>(ctx.name('long-full'), { maxsize: 1 });
          await bounded.put(1);
          let putOutcome = 'pending';
          const blocked = bounded.put(2, { timeoutMs: 2 ** 31 });
          blocked.then(
            () => {
              putOutcome = 'resolved';
            },
            (error: Error) => {
              putOutcome = `rejected: ${error.name}`;
            },
          );
          await sleep(timing.toleranceMs);
          expect(putOutcome, 'a put with timeoutMs 2^31 on a full queue must still be waiting').toBe(
            'pending',
          );
          await bounded.purge();
          await within(blocked, 10_000, 'the long put to get room');
        }
        expect(overflows.map((warning) => warning.message)).toEqual([]);
      } finally {
        process.off('warning', onWarning);
      }
    });
  });
}

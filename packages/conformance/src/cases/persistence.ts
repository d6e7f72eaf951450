import { type Delivery, QueueEmptyError } from '@taskwire/core';
import { expect } from 'vitest';
import { drain, expectRejects, until } from '../assertions.js';
import { type BaseConformanceOptions, type FaultInjection, within } from '../context.js';
import { defineGroup } from '../define.js';

/**
 * The `persistent` capability. Items always outlive the connection that put them; a transport that
 * declares `persistent` keeps ready, delayed and held items across a restart of its backend (the
 * test's `restartBackend`, required then); one that does not, and can be restarted, starts empty
 * and works again.
 */
export function persistenceCases(options: BaseConformanceOptions & { faults: FaultInjection }): void {
  const { faults } = options;
  const connect = faults.connectRestartable ?? faults.connect;
  defineGroup(
    options,
    'persistence',
    ({ test, caps, timing }) => {
      const recovery = faults.recoveryMs + timing.toleranceMs * 2;
      const { restartBackend } = faults;

      test('items outlive the connection that put them', async (ctx) => {
        const name = ctx.name('outlive');
        const producer = await ctx.connect();
        await (await producer.queue<number>(name)).putMany([1, 2, 3]);
        await producer.close();
        const consumer = await (await ctx.connect()).queue<number>(name);
        expect(await drain(consumer, 3)).toEqual([1, 2, 3]);
      });

      if (caps.persistent && restartBackend) {
        test('persistent: ready, delayed and held items survive a restart of the backend', async (ctx) => {
          const name = ctx.name('survives');
          const connection = await ctx.connect();
          const queue = await connection.queue<string>(name);
          await queue.putMany(['held', 'b', 'c']);
          if (caps.delayed) await queue.put('later', { delayMs: timing.delayMs });
          const holder = await ctx.connect();
          const held = await (await holder.queue<string>(name)).get({ timeoutMs: 5000 });
          expect(held.body).toBe('held');

          await restartBackend();
          const expected = ['b', 'c', 'held', ...(caps.delayed ? ['later'] : [])];
          const after = await (await ctx.connect()).queue<string>(name);
          const received: Delivery<string>[] = [];
          while (received.length < expected.length) {
            const delivery = await after.get({ timeoutMs: recovery + timing.delayMs });
            received.push(delivery);
            await delivery.ack();
          }
          expect(received.map((delivery) => delivery.body).sort()).toEqual(expected);
          expect(received.find((delivery) => delivery.body === 'held')!.attempt).toBe(2);
          if (faults.reconnects) {
            // A connection opened before the restart carries on by itself.
            await within(queue.put('after'), recovery, 'a put on a connection from before the restart');
            expect(await drain(after, 1, recovery)).toEqual(['after']);
          }
          await expectRejects(after.get({ timeoutMs: timing.toleranceMs }), QueueEmptyError);
        }, 60_000);
      } else if (caps.persistent) {
        test('persistent is declared: the test must give restartBackend so the suite can check it', async () => {
          expect.fail(
            'the transport declares persistent: pass faults.restartBackend (and connectRestartable) restarting a private backend',
          );
        });
      } else if (restartBackend) {
        test('not persistent: after a restart of the backend the queue starts empty and works', async (ctx) => {
          const name = ctx.name('forgets');
          const connection = await ctx.connect();
          const queue = await connection.queue<number>(name);
          await queue.putMany([1, 2]);
          await restartBackend();
          const after = await (await ctx.connect()).queue<number>(name);
          await expectRejects(after.get({ timeoutMs: timing.toleranceMs }), QueueEmptyError);
          await after.put(3);
          expect(await drain(after, 1)).toEqual([3]);
          if (faults.reconnects) {
            await until(
              () =>
                queue.put(4).then(
                  () => true,
                  () => false,
                ),
              recovery,
              'a put on a connection from before the restart',
            );
            expect(await drain(after, 1, recovery)).toEqual([4]);
          }
        }, 60_000);
      }
    },
    connect,
  );
}

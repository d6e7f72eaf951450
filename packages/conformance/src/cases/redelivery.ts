import { type Delivery, QueueEmptyError } from '@taskwire/core';
import { expect } from 'vitest';
import { expectRejects } from '../assertions.js';
import { type BaseConformanceOptions, sleep, within } from '../context.js';
import { defineGroup } from '../define.js';

export function redeliveryCases(options: BaseConformanceOptions): void {
  defineGroup(options, 'redelivery: attempts and visibility', ({ test, caps, timing }) => {
    test("a closed connection's unacked deliveries go to another connection's consumer", async (ctx) => {
      const name = ctx.name('crash');
      const doomed = await ctx.connect();
      const producer = await (await ctx.connect()).queue<number>(name);
      await producer.putMany([1, 2, 3]);
      const victim = await doomed.queue<number>(name);
      const held = [await victim.get({ timeoutMs: 5000 }), await victim.get({ timeoutMs: 5000 })];
      expect(held.map((d) => d.body)).toEqual([1, 2]);

      const survivor = await (await ctx.connect()).queue<number>(name);
      const received: Delivery<number>[] = [];
      const done = new Promise<void>((resolve) => {
        void survivor.consume(
          async (delivery) => {
            received.push(delivery);
            await delivery.ack();
            if (received.length === 3) resolve();
          },
          { prefetch: 10 },
        );
      });
      await doomed.close();
      await within(done, 10_000, 'redelivery after the connection closed');
      expect(received.map((d) => d.body).sort()).toEqual([1, 2, 3]);
      const redelivered = received.filter((d) => d.body !== 3);
      expect(redelivered.every((d) => d.attempt === 2)).toBe(true);
    });

    test('every closed connection counts an attempt: 1, 2, 3 across two drops', async (ctx) => {
      const name = ctx.name('drops');
      const producer = await (await ctx.connect()).queue<string>(name);
      await producer.put('poison');
      const attempts: number[] = [];
      for (let drop = 0; drop < 2; drop++) {
        const doomed = await ctx.connect();
        const delivery = await (await doomed.queue<string>(name)).get({ timeoutMs: 10_000 });
        attempts.push(delivery.attempt);
        await doomed.close(); // gone without settling, like a worker that crashed
      }
      const last = await producer.get({ timeoutMs: 10_000 });
      attempts.push(last.attempt);
      expect(last.body).toBe('poison');
      await last.ack();
      expect(attempts).toEqual([1, 2, 3]);
    });

    test("a closed connection's delivery goes back after the items already waiting", async (ctx) => {
      const name = ctx.name('crash-order');
      const producer = await (await ctx.connect()).queue<string>(name);
      await producer.put('poison');
      await producer.putMany(['b', 'c']);
      const doomed = await ctx.connect();
      const poison = await (await doomed.queue<string>(name)).get({ timeoutMs: 5000 });
      expect(poison.body).toBe('poison');
      await doomed.close();
      // The next worker gets the healthy items first: a poison task cannot stall the queue.
      const order: [string, number][] = [];
      for (let i = 0; i < 3; i++) {
        const delivery = await producer.get({ timeoutMs: 10_000 });
        order.push([delivery.body, delivery.attempt]);
        await delivery.ack();
      }
      expect(order).toEqual([
        ['b', 1],
        ['c', 1],
        ['poison', 2],
      ]);
    });

    if (caps.priority) {
      test("a closed connection's delivery goes back after waiting items of its priority, before lower ones", async (ctx) => {
        const name = ctx.name('crash-order-prio');
        const producer = await (await ctx.connect()).queue<string>(name, { order: 'priority' });
        await producer.put('high-poison', { priority: 5 });
        await producer.put('high', { priority: 5 });
        await producer.put('low', { priority: 1 });
        const doomed = await ctx.connect();
        const poison = await (await doomed.queue<string>(name)).get({ timeoutMs: 5000 });
        expect(poison.body).toBe('high-poison');
        await doomed.close();
        const order: string[] = [];
        for (let i = 0; i < 3; i++) {
          const delivery = await producer.get({ timeoutMs: 10_000 });
          order.push(delivery.body);
          await delivery.ack();
        }
        expect(order).toEqual(['high', 'high-poison', 'low']);
      });
    }

    test('an unacked delivery becomes visible again after the visibility timeout', async (ctx) => {
      const name = ctx.name('visibility');
      const connection = await ctx.connect();
      const queue = await connection.queue<string>(name, {
        visibilityTimeoutMs: timing.visibilityTimeoutMs,
      });
      await queue.put('slow');
      const first = await queue.get({ timeoutMs: 5000 });
      const takenAt = Date.now();
      await expectRejects(queue.get({ timeoutMs: timing.visibilityTimeoutMs / 3 }), QueueEmptyError);
      const second = await queue.get({ timeoutMs: timing.visibilityTimeoutMs + timing.toleranceMs * 10 });
      expect(Date.now() - takenAt).toBeGreaterThanOrEqual(timing.visibilityTimeoutMs - 50);
      expect(second.body).toBe('slow');
      expect(second.attempt).toBe(2);
      expect(second.id).toBe(first.id);
      await second.ack();
      // The late ack of the expired first delivery must not resurrect or duplicate anything.
      await first.ack().catch(() => undefined);
      await expectRejects(queue.get({ timeoutMs: timing.toleranceMs }), QueueEmptyError);
    });

    test('a delivery returned by a closed connection and acked elsewhere never comes back', async (ctx) => {
      const name = ctx.name('returned-acked');
      const options = { visibilityTimeoutMs: timing.visibilityTimeoutMs };
      const holder = await ctx.connect();
      const held = await holder.queue<string>(name, options);
      await held.put('once');
      expect((await held.get({ timeoutMs: 5000 })).attempt).toBe(1);
      await holder.close();
      const other = await (await ctx.connect()).queue<string>(name, options);
      const again = await other.get({ timeoutMs: 5000 + timing.visibilityTimeoutMs });
      expect(again.body).toBe('once');
      expect(again.attempt).toBe(2);
      await again.ack();
      // Past the deadline the first delivery had: nothing may resurrect the acked item.
      await sleep(timing.visibilityTimeoutMs + timing.toleranceMs);
      expect(await other.size()).toBe(0);
      const third = await (await ctx.connect()).queue<string>(name, options);
      await expectRejects(third.get({ timeoutMs: timing.toleranceMs }), QueueEmptyError);
    });

    test("a returned delivery's old visibility deadline never cuts its next delivery short", async (ctx) => {
      const name = ctx.name('returned-deadline');
      const options = { visibilityTimeoutMs: timing.visibilityTimeoutMs };
      const holder = await ctx.connect();
      const held = await holder.queue<string>(name, options);
      await held.put('item');
      await held.get({ timeoutMs: 5000 });
      await sleep(timing.visibilityTimeoutMs / 2);
      await holder.close();
      const second = await (await ctx.connect()).queue<string>(name, options);
      const redelivered = await second.get({ timeoutMs: 5000 + timing.visibilityTimeoutMs });
      expect(redelivered.attempt).toBe(2);
      // The first delivery's deadline passes in this window; the second one's does not.
      const third = await (await ctx.connect()).queue<string>(name, options);
      await expectRejects(third.get({ timeoutMs: (timing.visibilityTimeoutMs * 3) / 4 }), QueueEmptyError);
      await redelivered.ack();
      await expectRejects(third.get({ timeoutMs: timing.visibilityTimeoutMs }), QueueEmptyError);
    });

    test('a consume handler that throws gets the delivery redelivered', async (ctx) => {
      const queue = await (await ctx.connect()).queue<string>(ctx.name('throws'));
      await queue.put('boom');
      const attempts: number[] = [];
      const done = new Promise<void>((resolve) => {
        void queue.consume(async (delivery) => {
          attempts.push(delivery.attempt);
          if (delivery.attempt === 1) throw new Error('handler failure');
          await delivery.ack();
          resolve();
        });
      });
      await within(done, 10_000, 'the redelivery after a throwing handler');
      expect(attempts).toEqual([1, 2]);
    });
  });
}

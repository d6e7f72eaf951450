import type { Delivery } from '@taskwire/core';
import { expect } from 'vitest';
import { drain } from '../assertions.js';
import { type BaseConformanceOptions, sleep, within } from '../context.js';
import { defineGroup } from '../define.js';

export function throughputCases(options: BaseConformanceOptions): void {
  defineGroup(options, 'throughput shapes', ({ test, timing }) => {
    test('putMany stores every item in order', async (ctx) => {
      const queue = await (await ctx.connect()).queue<number>(ctx.name('putmany'));
      const items = Array.from({ length: 500 }, (_, i) => i);
      await queue.putMany(items);
      expect(await queue.size()).toBe(500);
      expect(await drain(queue, 500)).toEqual(items);
    });

    test('consume never holds more than prefetch unsettled deliveries', async (ctx) => {
      const queue = await (await ctx.connect()).queue<number>(ctx.name('prefetch'));
      await queue.putMany(Array.from({ length: 30 }, (_, i) => i));
      const held: Delivery<number>[] = [];
      const handle = await queue.consume(
        (delivery) => {
          held.push(delivery);
        },
        { prefetch: 5 },
      );
      await sleep(timing.toleranceMs);
      expect(held.length).toBe(5);
      for (const delivery of held.splice(0, 5)) await delivery.ack();
      await sleep(timing.toleranceMs);
      expect(held.length).toBe(5);
      await handle.cancel();
      for (const delivery of held.splice(0)) await delivery.ack();
      expect(await queue.size()).toBe(20);
    });

    test('a cancelled consumer receives nothing more', async (ctx) => {
      const queue = await (await ctx.connect()).queue<number>(ctx.name('cancel'));
      const seen: number[] = [];
      const handle = await queue.consume(async (delivery) => {
        seen.push(delivery.body);
        await delivery.ack();
      });
      await queue.put(1);
      await within(
        (async () => {
          while (seen.length < 1) await sleep(10);
        })(),
        5000,
        'the first delivery',
      );
      await handle.cancel();
      await queue.put(2);
      await sleep(timing.toleranceMs);
      expect(seen).toEqual([1]);
      expect(await drain(queue, 1)).toEqual([2]);
    });

    test('4 concurrent consumers × 400 items: every item delivered exactly once', async (ctx) => {
      const name = ctx.name('fanout');
      const producer = await (await ctx.connect()).queue<number>(name);
      const total = 400;
      const counts = new Map<number, number>();
      let received = 0;
      let finish: () => void = () => undefined;
      const done = new Promise<void>((resolve) => {
        finish = resolve;
      });
      for (let c = 0; c < 4; c++) {
        const queue = await (await ctx.connect()).queue<number>(name);
        await queue.consume(
          async (delivery) => {
            counts.set(delivery.body, (counts.get(delivery.body) ?? 0) + 1);
            await delivery.ack();
            if (++received === total) finish();
          },
          { prefetch: 8 },
        );
      }
      await producer.putMany(Array.from({ length: total }, (_, i) => i));
      await within(done, 20_000, `${total} deliveries`);
      await sleep(timing.toleranceMs);
      expect(received).toBe(total);
      expect(counts.size).toBe(total);
      expect([...counts.values()].every((n) => n === 1)).toBe(true);
    });
  });
}

import { QueueEmptyError } from '@taskwire/core';
import { expect } from 'vitest';
import { drain, expectRejects } from '../assertions.js';
import type { BaseConformanceOptions } from '../context.js';
import { defineGroup } from '../define.js';

export function acknowledgementCases(options: BaseConformanceOptions): void {
  defineGroup(options, 'acknowledgement', ({ test, timing }) => {
    test('ack removes the item for good', async (ctx) => {
      const name = ctx.name('ack');
      const first = await ctx.connect();
      const queue = await first.queue<string>(name);
      await queue.put('once');
      const delivery = await queue.get({ timeoutMs: 5000 });
      await delivery.ack();
      expect(await queue.size()).toBe(0);
      await first.close();
      const second = await (await ctx.connect()).queue<string>(name);
      await expectRejects(second.get({ timeoutMs: timing.toleranceMs }), QueueEmptyError);
    });

    test('nack with requeue redelivers the item with attempt 2 and the same id', async (ctx) => {
      const queue = await (await ctx.connect()).queue<string>(ctx.name('nack'));
      await queue.put('again');
      const first = await queue.get({ timeoutMs: 5000 });
      expect(first.attempt).toBe(1);
      await first.nack({ requeue: true });
      const second = await queue.get({ timeoutMs: 5000 });
      expect(second.body).toBe('again');
      expect(second.attempt).toBe(2);
      expect(second.id).toBe(first.id);
      await second.ack();
    });

    test('a requeued item is served after the items already waiting (fifo)', async (ctx) => {
      const queue = await (await ctx.connect()).queue<string>(ctx.name('nack-order'));
      await queue.putMany(['a', 'b', 'c']);
      const a = await queue.get({ timeoutMs: 5000 });
      await a.nack({ requeue: true });
      expect(await drain(queue, 3)).toEqual(['b', 'c', 'a']);
    });

    test('nack with countAttempt: false gives the item back with the same attempt; a plain nack counts one', async (ctx) => {
      const queue = await (await ctx.connect()).queue<string>(ctx.name('nack-uncounted'));
      await queue.put('prefetched');
      const first = await queue.get({ timeoutMs: 5000 });
      expect(first.attempt).toBe(1);
      await first.nack({ requeue: true, countAttempt: false });
      const second = await queue.get({ timeoutMs: 5000 });
      expect(second.body).toBe('prefetched');
      expect(second.id).toBe(first.id);
      expect(second.attempt).toBe(1);
      await second.nack({ requeue: true });
      const third = await queue.get({ timeoutMs: 5000 });
      expect(third.attempt).toBe(2);
      await third.nack({ requeue: true, countAttempt: false });
      const fourth = await queue.get({ timeoutMs: 5000 });
      expect(fourth.attempt).toBe(2);
      await fourth.ack();
      await expectRejects(queue.get({ timeoutMs: timing.toleranceMs }), QueueEmptyError);
    });

    test('settling a delivery twice is harmless', async (ctx) => {
      const queue = await (await ctx.connect()).queue<number>(ctx.name('double-ack'));
      await queue.putMany([1, 2]);
      const delivery = await queue.get({ timeoutMs: 5000 });
      await delivery.ack();
      await delivery.ack();
      await delivery.nack();
      expect(await drain(queue, 1)).toEqual([2]);
      await expectRejects(queue.get({ timeoutMs: timing.toleranceMs }), QueueEmptyError);
    });
  });
}

import { UnsupportedError } from '@taskwire/core';
import { expect } from 'vitest';
import { drain, expectRejects } from '../assertions.js';
import type { BaseConformanceOptions } from '../context.js';
import { defineGroup } from '../define.js';

export function orderingCases(options: BaseConformanceOptions): void {
  defineGroup(options, 'ordering', ({ test, caps }) => {
    test('fifo: items come out in the order they went in', async (ctx) => {
      const queue = await (await ctx.connect()).queue<number>(ctx.name('fifo'));
      for (let i = 0; i < 20; i++) await queue.put(i);
      expect(await drain(queue, 20)).toEqual([...Array(20).keys()]);
    });

    if (caps.lifo) {
      test('lifo: the last item in is the first out', async (ctx) => {
        const queue = await (await ctx.connect()).queue<number>(ctx.name('lifo'), { order: 'lifo' });
        for (let i = 0; i < 10; i++) await queue.put(i);
        expect(await drain(queue, 10)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
      });
    } else {
      test('lifo is refused with UnsupportedError naming the option', async (ctx) => {
        const connection = await ctx.connect();
        const error = await expectRejects(
          connection.queue(ctx.name('lifo'), { order: 'lifo' }),
          UnsupportedError,
        );
        expect(error.message).toMatch(/lifo/i);
      });
    }

    if (caps.priority) {
      test('priority: larger first, fifo among equals', async (ctx) => {
        const queue = await (await ctx.connect()).queue<string>(ctx.name('prio'), { order: 'priority' });
        const puts: [string, number][] = [
          ['low-a', 1],
          ['high-a', 9],
          ['mid-a', 5],
          ['high-b', 9],
          ['low-b', 1],
          ['mid-b', 5],
          ['zero', 0],
          ['high-c', 9],
        ];
        for (const [body, priority] of puts) await queue.put(body, { priority });
        expect(await drain(queue, puts.length)).toEqual([
          'high-a',
          'high-b',
          'high-c',
          'mid-a',
          'mid-b',
          'low-a',
          'low-b',
          'zero',
        ]);
      });

      test('priority: a priority outside 0–255 is a TypeError', async (ctx) => {
        const queue = await (await ctx.connect()).queue<string>(ctx.name('prio-range'), {
          order: 'priority',
        });
        await expect(queue.put('x', { priority: 256 })).rejects.toBeInstanceOf(TypeError);
        await expect(queue.put('x', { priority: -1 })).rejects.toBeInstanceOf(TypeError);
      });
    } else {
      test('priority is refused with UnsupportedError', async (ctx) => {
        const connection = await ctx.connect();
        const error = await expectRejects(
          connection.queue(ctx.name('prio'), { order: 'priority' }),
          UnsupportedError,
        );
        expect(error.message).toMatch(/priority/i);
      });
    }
  });
}

import { ConnectionClosedError, QueueEmptyError } from '@taskwire/core';
import { expect } from 'vitest';
import { expectRejects } from '../assertions.js';
import { type BaseConformanceOptions, sleep, within } from '../context.js';
import { defineGroup } from '../define.js';

export function getCases(options: BaseConformanceOptions): void {
  defineGroup(options, 'get and close', ({ test, timing }) => {
    test('get with timeoutMs on an empty queue rejects with QueueEmptyError within tolerance', async (ctx) => {
      const queue = await (await ctx.connect()).queue(ctx.name('empty'));
      const started = Date.now();
      await expectRejects(queue.get({ timeoutMs: timing.delayMs }), QueueEmptyError);
      const waited = Date.now() - started;
      expect(waited).toBeGreaterThanOrEqual(timing.delayMs - 20);
      expect(waited).toBeLessThan(timing.delayMs + timing.toleranceMs * 3);
    });

    test('get with timeoutMs: 0 on an empty queue rejects at once', async (ctx) => {
      const queue = await (await ctx.connect()).queue(ctx.name('empty-now'));
      const started = Date.now();
      await expectRejects(queue.get({ timeoutMs: 0 }), QueueEmptyError);
      expect(Date.now() - started).toBeLessThan(timing.toleranceMs * 2);
    });

    test('a waiting get receives an item put later', async (ctx) => {
      const name = ctx.name('wait');
      const consumer = await (await ctx.connect()).queue<string>(name);
      const producer = await (await ctx.connect()).queue<string>(name);
      const waiting = consumer.get({ timeoutMs: 10_000 });
      await sleep(timing.toleranceMs / 2);
      await producer.put('late');
      const delivery = await within(waiting, 5000, 'the waiting get');
      expect(delivery.body).toBe('late');
      expect(delivery.attempt).toBe(1);
      await delivery.ack();
    });

    test('close() rejects a waiting get with ConnectionClosedError', async (ctx) => {
      const connection = await ctx.connect();
      const queue = await connection.queue(ctx.name('close-wait'));
      const waiting = queue.get();
      await sleep(50);
      await connection.close();
      await expectRejects(within(waiting, 5000, 'the waiting get to be rejected'), ConnectionClosedError);
    });

    test('operations on a closed connection reject with ConnectionClosedError', async (ctx) => {
      const connection = await ctx.connect();
      const queue = await connection.queue(ctx.name('closed-ops'));
      await connection.close();
      await expectRejects(queue.get({ timeoutMs: 100 }), ConnectionClosedError);
      await expectRejects(queue.put(1), ConnectionClosedError);
    });
  });
}

import { QueueEmptyError, UnsupportedError } from '@taskwire/core';
import { expect } from 'vitest';
import { expectRejects } from '../assertions.js';
import type { BaseConformanceOptions } from '../context.js';
import { defineGroup } from '../define.js';

export function delayCases(options: BaseConformanceOptions): void {
  defineGroup(options, 'delays', ({ test, caps, timing }) => {
    if (caps.delayed) {
      test('a delayed put is invisible before its delay and visible after', async (ctx) => {
        const queue = await (await ctx.connect()).queue<string>(ctx.name('delayed'));
        const started = Date.now();
        await queue.put('later', { delayMs: timing.delayMs });
        await queue.put('now');
        const first = await queue.get({ timeoutMs: 5000 });
        expect(first.body).toBe('now');
        await first.ack();
        await expectRejects(queue.get({ timeoutMs: timing.delayMs / 4 }), QueueEmptyError);
        const later = await queue.get({ timeoutMs: timing.delayMs + timing.toleranceMs * 10 });
        expect(later.body).toBe('later');
        expect(Date.now() - started).toBeGreaterThanOrEqual(timing.delayMs - 20);
        await later.ack();
      });

      test('nack with delayMs redelivers only after the delay', async (ctx) => {
        const queue = await (await ctx.connect()).queue<string>(ctx.name('nack-delay'));
        await queue.put('retry');
        const first = await queue.get({ timeoutMs: 5000 });
        const nackedAt = Date.now();
        await first.nack({ requeue: true, delayMs: timing.delayMs });
        await expectRejects(queue.get({ timeoutMs: timing.delayMs / 4 }), QueueEmptyError);
        const second = await queue.get({ timeoutMs: timing.delayMs + timing.toleranceMs * 10 });
        expect(Date.now() - nackedAt).toBeGreaterThanOrEqual(timing.delayMs - 20);
        expect(second.attempt).toBe(2);
        await second.ack();
      });
    } else {
      test('delayMs is refused with UnsupportedError', async (ctx) => {
        const queue = await (await ctx.connect()).queue<string>(ctx.name('delayed'));
        await expectRejects(queue.put('later', { delayMs: 100 }), UnsupportedError);
      });
    }
  });
}

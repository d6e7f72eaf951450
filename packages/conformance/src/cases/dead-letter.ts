import { type Delivery, QueueEmptyError, UnsupportedError } from '@taskwire/core';
import { expect } from 'vitest';
import { expectRejects, until } from '../assertions.js';
import type { BaseConformanceOptions, RawPut } from '../context.js';
import { defineGroup } from '../define.js';

/** Bytes no msgpack decoder accepts: the reserved byte 0xc1, and an array cut short. */
const UNDECODABLE = [Uint8Array.of(0xc1), Uint8Array.of(0x92, 0x01)];

/**
 * Dead letters: `nack({ requeue: false })`, and payloads that cannot be decoded, planted with the
 * test's `rawPut`: they go to `deadLetter`, else to `<name>.dead`, and the consumer keeps going.
 */
export function deadLetterCases(options: BaseConformanceOptions & { rawPut: RawPut }): void {
  const { rawPut } = options;
  defineGroup(options, 'dead letters and undecodable payloads', ({ test, caps, timing }) => {
    const settleMs = 5000 + timing.toleranceMs;

    if (caps.deadLetter) {
      test('nack without requeue moves the item to the dead-letter queue', async (ctx) => {
        const deadName = ctx.name('dead');
        const connection = await ctx.connect();
        const dead = await connection.queue<{ n: number }>(deadName);
        const queue = await connection.queue<{ n: number }>(ctx.name('dl-source'), {
          deadLetter: deadName,
        });
        await queue.put({ n: 7 });
        const delivery = await queue.get({ timeoutMs: 5000 });
        await delivery.nack({ requeue: false });
        const deadLettered = await dead.get({ timeoutMs: 5000 });
        expect(deadLettered.body).toEqual({ n: 7 });
        await deadLettered.ack();
        expect(await queue.size()).toBe(0);
        await expectRejects(queue.get({ timeoutMs: timing.toleranceMs }), QueueEmptyError);
      });
    } else {
      test('deadLetter is refused with UnsupportedError', async (ctx) => {
        const connection = await ctx.connect();
        await expectRejects(
          connection.queue(ctx.name('dl-source'), { deadLetter: ctx.name('dead') }),
          UnsupportedError,
        );
      });
    }

    test('an undecodable payload is dead-lettered to <name>.dead and get() moves on to the next item', async (ctx) => {
      const name = ctx.name('undecodable');
      const deadName = ctx.name('undecodable.dead');
      const connection = await ctx.connect();
      const queue = await connection.queue<string>(name);
      await rawPut(name, UNDECODABLE[0]!);
      await queue.put('good');
      const delivery = await queue.get({ timeoutMs: 5000 });
      expect(delivery.body).toBe('good');
      expect(delivery.attempt).toBe(1);
      await delivery.ack();
      const dead = await connection.queue(deadName);
      await until(async () => (await dead.size()) === 1, settleMs, 'the payload in <name>.dead');
      expect(await queue.size()).toBe(0);
      await expectRejects(queue.get({ timeoutMs: timing.toleranceMs }), QueueEmptyError);
    });

    test('undecodable payloads between good items: a consumer gets every good one, in order', async (ctx) => {
      const name = ctx.name('undecodable-consume');
      const deadName = ctx.name('undecodable-consume.dead');
      const connection = await ctx.connect();
      const queue = await connection.queue<number>(name);
      await queue.put(1);
      await rawPut(name, UNDECODABLE[0]!);
      await queue.put(2);
      await rawPut(name, UNDECODABLE[1]!);
      await queue.put(3);
      const received: Delivery<number>[] = [];
      const handle = await queue.consume(async (delivery) => {
        received.push(delivery);
        await delivery.ack();
      });
      await until(() => received.length === 3, settleMs, 'the three good items');
      await handle.cancel();
      expect(received.map((delivery) => delivery.body)).toEqual([1, 2, 3]);
      const dead = await connection.queue(deadName);
      await until(async () => (await dead.size()) === 2, settleMs, 'both payloads in <name>.dead');
      expect(await queue.size()).toBe(0);
    });

    if (caps.deadLetter) {
      test('an undecodable payload goes to the deadLetter queue when the queue has one', async (ctx) => {
        const name = ctx.name('undecodable-dl');
        const deadName = ctx.name('undecodable-dl-target');
        const connection = await ctx.connect();
        const queue = await connection.queue<string>(name, { deadLetter: deadName });
        await rawPut(name, UNDECODABLE[0]!);
        await queue.put('good');
        const delivery = await queue.get({ timeoutMs: 5000 });
        expect(delivery.body).toBe('good');
        await delivery.ack();
        const dead = await connection.queue(deadName);
        await until(async () => (await dead.size()) === 1, settleMs, 'the payload in the deadLetter queue');
        expect(await queue.size()).toBe(0);
      });
    }
  });
}

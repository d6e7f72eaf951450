import { ConfigError, ConnectionClosedError, QueueEmptyError } from '@taskwire/core';
import { expect } from 'vitest';
import { drain, expectRejects } from '../assertions.js';
import { type BaseConformanceOptions, sleep } from '../context.js';
import { defineGroup } from '../define.js';

export function queueCases(options: BaseConformanceOptions): void {
  defineGroup(options, 'queues and connections', ({ test, timing }) => {
    test('a connection has an error event: on and off return the connection, and a close is no failure', async (ctx) => {
      const connection = await ctx.connect();
      const errors: Error[] = [];
      const listener = (error: Error) => errors.push(error);
      const removed = () => undefined;
      expect(connection.on('error', listener)).toBe(connection);
      expect(connection.on('error', removed)).toBe(connection);
      expect(connection.off('error', removed)).toBe(connection);
      const queue = await connection.queue<number>(ctx.name('events'));
      await queue.put(1);
      await drain(queue, 1);
      await connection.close();
      await sleep(timing.toleranceMs);
      expect(errors).toEqual([]);
    });

    test('two queues on one connection are independent', async (ctx) => {
      const connection = await ctx.connect();
      const a = await connection.queue<string>(ctx.name('a'));
      const b = await connection.queue<string>(ctx.name('b'));
      await a.put('for-a');
      await b.put('for-b');
      await a.put('for-a-2');
      expect(await a.size()).toBe(2);
      expect(await b.size()).toBe(1);
      expect(await drain(b, 1)).toEqual(['for-b']);
      expect(await drain(a, 2)).toEqual(['for-a', 'for-a-2']);
    });

    test('two connections share one queue', async (ctx) => {
      const name = ctx.name('shared');
      const one = await (await ctx.connect()).queue<number>(name);
      const two = await (await ctx.connect()).queue<number>(name);
      await one.put(1);
      await two.put(2);
      expect(await one.size()).toBe(2);
      expect(await drain(two, 1)).toEqual([1]);
      expect(await drain(one, 1)).toEqual([2]);
    });

    test('size and purge', async (ctx) => {
      const queue = await (await ctx.connect()).queue<number>(ctx.name('purge'));
      await queue.putMany([1, 2, 3, 4]);
      expect(await queue.size()).toBe(4);
      expect(await queue.purge()).toBe(4);
      expect(await queue.size()).toBe(0);
      await expectRejects(queue.get({ timeoutMs: timing.toleranceMs }), QueueEmptyError);
    });

    test('delete() removes the queue and its items', async (ctx) => {
      const name = ctx.name('deleted');
      const queue = await (await ctx.connect()).queue<number>(name, { visibilityTimeoutMs: 30_000 });
      await queue.putMany([1, 2, 3]);
      await queue.delete();
      await expectRejects(queue.put(4), ConnectionClosedError);
      // Recreated empty, and with other options: the old declaration is gone too.
      const again = await (await ctx.connect()).queue<number>(name, { visibilityTimeoutMs: 60_000 });
      expect(await again.size()).toBe(0);
      await expectRejects(again.get({ timeoutMs: timing.toleranceMs }), QueueEmptyError);
    });

    test('redeclaring a queue with a conflicting option is a ConfigError naming it', async (ctx) => {
      const name = ctx.name('conflict');
      const connection = await ctx.connect();
      await connection.queue(name, { visibilityTimeoutMs: 30_000 });
      const error = await expectRejects(connection.queue(name, { visibilityTimeoutMs: 60_000 }), ConfigError);
      expect(error.message).toContain(name);
      // The connection is still usable for everyone else.
      const other = await connection.queue<number>(ctx.name('after-conflict'));
      await other.put(1);
      expect(await drain(other, 1)).toEqual([1]);
    });
  });
}

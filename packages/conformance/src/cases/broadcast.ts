import { UnsupportedError } from '@taskwire/core';
import { expect } from 'vitest';
import { expectRejects } from '../assertions.js';
import { type BaseConformanceOptions, sleep, within } from '../context.js';
import { defineGroup } from '../define.js';

export function broadcastCases(options: BaseConformanceOptions): void {
  defineGroup(options, 'broadcast', ({ test, caps }) => {
    if (caps.broadcast) {
      test('a published message reaches every subscriber', async (ctx) => {
        const channel = ctx.name('channel');
        const publisher = await ctx.connect();
        const got: string[][] = [[], [], []];
        for (const inbox of got) {
          const connection = await ctx.connect();
          await connection.subscribe<string>(channel, (message) => inbox.push(message));
        }
        await sleep(100);
        await publisher.publish(channel, 'hello all');
        await within(
          (async () => {
            while (got.some((inbox) => inbox.length === 0)) await sleep(10);
          })(),
          5000,
          'every subscriber to receive the broadcast',
        );
        expect(got).toEqual([['hello all'], ['hello all'], ['hello all']]);
      });
    } else {
      test('publish is refused with UnsupportedError', async (ctx) => {
        const connection = await ctx.connect();
        await expectRejects(connection.publish(ctx.name('channel'), 'x'), UnsupportedError);
      });
    }
  });
}

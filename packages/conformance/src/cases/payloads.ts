import { FrameTooLargeError } from '@taskwire/core';
import { expect } from 'vitest';
import { expectRejects } from '../assertions.js';
import type { BaseConformanceOptions } from '../context.js';
import { defineGroup } from '../define.js';

export function payloadCases(options: BaseConformanceOptions): void {
  defineGroup(options, 'payloads', ({ test }) => {
    test('msgpack types round-trip', async (ctx) => {
      const queue = await (await ctx.connect()).queue<unknown>(ctx.name('types'));
      const value = {
        text: 'héllo wörld — 你好 — 🎉',
        int: 42,
        negative: -7,
        float: 3.25,
        big: 2n ** 70n,
        smallBig: 5n,
        date: new Date('2026-01-02T03:04:05.678Z'),
        bytes: new Uint8Array([0, 1, 2, 254, 255]),
        map: new Map<unknown, unknown>([
          ['a', 1],
          [2, { nested: [1, 'two', null] }],
        ]),
        nested: { deep: { deeper: [true, false, null, { x: 'y' }] } },
        empty: {},
        list: [],
      };
      await queue.put(value);
      const delivery = await queue.get({ timeoutMs: 5000 });
      expect(delivery.body).toEqual(value);
      expect((delivery.body as typeof value).map).toBeInstanceOf(Map);
      expect((delivery.body as typeof value).big).toBe(2n ** 70n);
      await delivery.ack();
    });

    test('an 8 MiB payload round-trips intact', async (ctx) => {
      const queue = await (await ctx.connect()).queue<Uint8Array>(ctx.name('large'));
      const payload = new Uint8Array(8 * 1024 * 1024);
      for (let i = 0; i < payload.length; i += 4096) payload[i] = (i / 4096) % 251;
      await queue.put(payload);
      const delivery = await queue.get({ timeoutMs: 20_000 });
      expect(delivery.body.length).toBe(payload.length);
      expect(Buffer.compare(Buffer.from(delivery.body), Buffer.from(payload))).toBe(0);
      await delivery.ack();
    });

    test('a payload over maxPayloadBytes is refused at put with FrameTooLargeError', async (ctx) => {
      const connection = await ctx.connect({ maxPayloadBytes: 64 * 1024 });
      const queue = await connection.queue<Uint8Array>(ctx.name('oversize'));
      await expectRejects(queue.put(new Uint8Array(64 * 1024 + 1)), FrameTooLargeError);
      await queue.put(new Uint8Array(1024));
      expect(await queue.size()).toBe(1);
    });
  });
}

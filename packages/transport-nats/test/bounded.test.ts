import { type Connection, QueueFullError } from '@taskwire/core';
import type { NatsConnection as NatsClient } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNatsTransport } from '../src/index.js';
import { adminClient, deleteStreams, NATS_URL, uniquePrefix } from './nats.js';

const transport = createNatsTransport();
const prefix = uniquePrefix('bounded');
const PRODUCERS = 4;
let admin: NatsClient;
/** One connection per producer: concurrent puts from separate clients, as from separate processes. */
let producers: Connection[];

beforeAll(async () => {
  admin = await adminClient();
  producers = await Promise.all(
    Array.from({ length: PRODUCERS }, () => transport.connect({ url: NATS_URL, prefix })),
  );
});
afterAll(async () => {
  await Promise.all(producers.map((connection) => connection.close()));
  await deleteStreams(admin, prefix);
  await admin.close();
});

/** Outcome of each put: stored, or refused with `QueueFullError` (anything else fails the test). */
async function outcomes(puts: Promise<void>[]): Promise<{ stored: number; refused: number }> {
  let stored = 0;
  let refused = 0;
  for (const result of await Promise.allSettled(puts)) {
    if (result.status === 'fulfilled') stored++;
    else if (QueueFullError.isInstance(result.reason)) refused++;
    else throw result.reason;
  }
  return { stored, refused };
}

describe('nats bounded queues', () => {
  it('concurrent producers on separate connections never overshoot maxsize, ready and delayed puts alike', async () => {
    const name = 'race';
    const maxsize = 5;
    const queues = await Promise.all(producers.map((c) => c.queue<number>(name, { maxsize })));
    // 40 puts at once, half of them delayed: every one sees room when it starts, only 5 may get in.
    const puts = queues.flatMap((queue, p) =>
      Array.from({ length: 10 }, (_, i) =>
        queue.put(p * 10 + i, i % 2 ? { timeoutMs: 0, delayMs: 60_000 } : { timeoutMs: 0 }),
      ),
    );
    expect(await outcomes(puts)).toEqual({ stored: maxsize, refused: 40 - maxsize });
    const stats = await producers[0]!.stats(name);
    expect(stats.ready + stats.delayed).toBe(maxsize);
  });

  it('concurrent puts of one handle, some in a putMany, store exactly what fits', async () => {
    const queue = await producers[0]!.queue<number>('one-handle', { maxsize: 7 });
    const puts = [
      ...Array.from({ length: 20 }, (_, i) => queue.put(i, { timeoutMs: 0 })),
      queue.putMany([100, 101, 102], { timeoutMs: 0 }),
    ];
    const { stored } = await outcomes(puts);
    expect(stored).toBeLessThanOrEqual(7);
    expect(await queue.size()).toBe(7);
  });

  it('waiting producers fill a queue as a consumer empties it, never past maxsize, nothing lost', async () => {
    const name = 'drain';
    const maxsize = 3;
    const queues = await Promise.all(producers.map((c) => c.queue<number>(name, { maxsize })));
    const puts = queues.flatMap((queue, p) => Array.from({ length: 5 }, (_, i) => queue.put(p * 5 + i)));
    const taken: number[] = [];
    while (taken.length < PRODUCERS * 5) {
      const { ready, delayed } = await producers[0]!.stats(name);
      expect(ready + delayed).toBeLessThanOrEqual(maxsize);
      const delivery = await queues[0]!.get({ timeoutMs: 5000 });
      taken.push(delivery.body);
      await delivery.ack();
    }
    expect(await outcomes(puts)).toEqual({ stored: PRODUCERS * 5, refused: 0 });
    expect(taken.sort((a, b) => a - b)).toEqual(Array.from({ length: PRODUCERS * 5 }, (_, i) => i));
  });

  it('a bounded put waiting for room ends with its handle: close() rejects it, nothing stored', async () => {
    const connection = await transport.connect({ url: NATS_URL, prefix });
    const queue = await connection.queue<number>('closing', { maxsize: 1 });
    await queue.put(1);
    const blocked = queue.put(2);
    blocked.catch(() => undefined);
    await connection.close();
    await expect(blocked).rejects.toMatchObject({ name: 'ConnectionClosedError' });
    expect((await producers[0]!.stats('closing')).ready).toBe(1);
  });

  it('a payload stored apart (over max_payload) counts and arrives like any other', async () => {
    const queue = await producers[0]!.queue<string>('large', { maxsize: 1 });
    const large = 'x'.repeat(2 * 1024 * 1024);
    await queue.put(large);
    await expect(queue.put('small', { timeoutMs: 0 })).rejects.toSatisfy(QueueFullError.isInstance);
    const delivery = await queue.get({ timeoutMs: 5000 });
    expect(delivery.body).toBe(large);
    await delivery.ack();
    await queue.put('small', { timeoutMs: 0 });
  });

  it('a redeclaration with another maxsize is a ConfigError', async () => {
    await producers[0]!.queue('declared', { maxsize: 2 });
    await expect(producers[1]!.queue('declared', { maxsize: 3 })).rejects.toMatchObject({
      name: 'ConfigError',
    });
    await expect(producers[1]!.queue('declared')).resolves.toBeDefined();
  });
});

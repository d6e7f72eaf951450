import { type Delivery, QueueEmptyError } from '@taskwire/core';
import { describe, expect, it } from 'vitest';
import { shortLeaseRun } from './redis.js';

// A consumer's take rides behind its BLPOP; a cancel ends the wait with a token on the wait's own
// unblock key, so the take still answers: nothing is stranded, no lease moves, no attempt is charged.

const LEASE_TTL_MS = 300;
const run = shortLeaseRun('wait-and-take', LEASE_TTL_MS);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('redis: a consumer cancelled while it waits', () => {
  it('keeps the lease of its running deliveries: none comes back charged an attempt', async () => {
    const queue = await (await run.connect('keeps-lease')).queue<string>('keeps-lease');
    const other = await (await run.connect('keeps-lease-other')).queue<string>('keeps-lease');
    let held: Delivery<string> | undefined;
    const consumer = await queue.consume(
      (delivery) => {
        held = delivery;
        return new Promise<void>(() => undefined); // still running when the consumer is cancelled
      },
      { prefetch: 2 },
    );
    await queue.put('running');
    for (let i = 0; i < 100 && !held; i++) await sleep(20);
    expect(held?.body).toBe('running');
    await sleep(100); // the consumer is back in its wait (it has room for one more)
    await consumer.cancel();
    // Several lease lifetimes: a lease that moved would have lapsed, and the delivery come back.
    await sleep(LEASE_TTL_MS * 4);
    await expect(other.get({ timeoutMs: 300 })).rejects.toBeInstanceOf(QueueEmptyError);
    await held!.ack();
    expect(await other.size()).toBe(0);
    expect(await run.keysOf('keeps-lease')).not.toContainEqual(expect.stringContaining(':unblock:'));
  });

  it('gives back, uncounted, whatever its last take got: every item arrives once, at attempt 1', async () => {
    const queue = await (await run.connect('gives-back')).queue<number>('gives-back');
    const producer = await (await run.connect('gives-back-producer')).queue<number>('gives-back');
    const seen: number[] = [];
    const ITEMS = 30;
    // Cancel consumers at random points while items arrive: some cancels land in a wait whose take then runs.
    for (let n = 0; n < ITEMS; n++) {
      const consumer = await queue.consume(
        async (delivery) => {
          expect(delivery.attempt).toBe(1);
          seen.push(delivery.body);
          await delivery.ack();
        },
        { prefetch: 4 },
      );
      await sleep(n % 5);
      const put = producer.put(n);
      await sleep((n * 7) % 3);
      await consumer.cancel();
      await put;
    }
    const rest = await (await run.connect('gives-back-rest')).queue<number>('gives-back');
    for (let n = 0; n <= ITEMS; n++) {
      const delivery = await rest.get({ timeoutMs: 300 }).catch((error: unknown) => {
        expect(error).toBeInstanceOf(QueueEmptyError);
        return undefined;
      });
      if (!delivery) break;
      expect(delivery.attempt).toBe(1);
      seen.push(delivery.body);
      await delivery.ack();
    }
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: ITEMS }, (_, n) => n));
  });
});

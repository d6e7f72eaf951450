import { ConnectionClosedError, type Delivery, type DistributedQueue, QueueEmptyError } from '@taskwire/core';
import { expect } from 'vitest';
import { expectRejects, until } from '../assertions.js';
import { type BaseConformanceOptions, type FaultInjection, sleep, within } from '../context.js';
import { defineGroup } from '../define.js';

/** Take deliveries with `get` until the queue stays empty for `emptyMs`, at most `limit` of them. */
async function takeAll<T>(
  queue: DistributedQueue<T>,
  emptyMs: number,
  limit: number,
): Promise<Delivery<T>[]> {
  const taken: Delivery<T>[] = [];
  while (taken.length < limit) {
    try {
      const delivery = await queue.get({ timeoutMs: emptyMs });
      taken.push(delivery);
      await delivery.ack();
    } catch (error) {
      if (QueueEmptyError.isInstance(error)) return taken;
      throw error;
    }
  }
  throw new Error(`more than ${limit} items on queue "${queue.name}"`);
}

/** How many times each value occurs. */
function counts<T>(values: T[]): Map<T, number> {
  const seen = new Map<T, number>();
  for (const value of values) seen.set(value, (seen.get(value) ?? 0) + 1);
  return seen;
}

/**
 * Fault injection: connections dropped without a goodbye by the test's `breakConnection`. Held
 * deliveries come back counted, puts are never silently lost, consumers resume once, and a
 * settle after the break changes nothing it should not.
 */
export function faultCases(options: BaseConformanceOptions & { faults: FaultInjection }): void {
  const { faults } = options;
  defineGroup(
    options,
    'faults: broken connections',
    ({ test, caps, timing }) => {
      /** Upper bound of every wait for the transport to recover from a break. */
      const recovery = faults.recoveryMs + timing.toleranceMs * 2;

      /** Resolve once `queue`'s connection answers again after a break. */
      const reconnected = (queue: DistributedQueue<unknown>) =>
        until(
          () =>
            within(queue.size(), recovery, 'size()').then(
              () => true,
              () => false,
            ),
          recovery,
          `queue "${queue.name}" to answer after the break`,
        );

      test('deliveries held by a broken connection come back with their attempt counted, within recoveryMs', async (ctx) => {
        const name = ctx.name('held');
        const producer = await (await ctx.connect()).queue<number>(name);
        await producer.putMany([1, 2, 3]);
        const victim = await ctx.connect();
        const victimQueue = await victim.queue<number>(name);
        const held = [await victimQueue.get({ timeoutMs: 5000 }), await victimQueue.get({ timeoutMs: 5000 })];
        expect(held.map((delivery) => delivery.body)).toEqual([1, 2]);

        const brokenAt = Date.now();
        await faults.breakConnection(victim);
        const received: Delivery<number>[] = [];
        const handle = await producer.consume(
          async (delivery) => {
            received.push(delivery);
            await delivery.ack();
          },
          { prefetch: 10 },
        );
        await until(() => received.length >= 3, recovery, 'the held deliveries to come back');
        const recoveredMs = Date.now() - brokenAt;
        await sleep(timing.toleranceMs);
        await handle.cancel();
        expect(received.map((delivery) => delivery.body).sort()).toEqual([1, 2, 3]);
        for (const before of held) {
          const again = received.find((delivery) => delivery.body === before.body)!;
          expect(again.id).toBe(before.id);
          expect(again.attempt).toBe(before.attempt + 1);
        }
        expect(received.find((delivery) => delivery.body === 3)!.attempt).toBe(1);
        expect(recoveredMs).toBeLessThanOrEqual(recovery);
      });

      test('every break counts an attempt: 1, 2, 3 across two broken holders', async (ctx) => {
        const name = ctx.name('breaks');
        const producer = await (await ctx.connect()).queue<string>(name);
        await producer.put('poison');
        const attempts: number[] = [];
        for (let round = 0; round < 2; round++) {
          const victim = await ctx.connect();
          const delivery = await (await victim.queue<string>(name)).get({ timeoutMs: recovery });
          attempts.push(delivery.attempt);
          await faults.breakConnection(victim); // gone without settling, like a worker cut off
        }
        const last = await producer.get({ timeoutMs: recovery });
        attempts.push(last.attempt);
        expect(last.body).toBe('poison');
        await last.ack();
        expect(attempts).toEqual([1, 2, 3]);
      });

      test('a put in flight during a break resolves and is stored, or rejects: it never resolves and vanishes', async (ctx) => {
        const name = ctx.name('puts');
        const victim = await ctx.connect();
        const queue = await victim.queue<number>(name);
        const outcomes: Promise<{ values: number[]; error?: unknown }>[] = [];
        let next = 0;
        const issue = (count: number) => {
          for (let i = 0; i < count; i++) {
            const value = next++;
            // Every other put takes the unbatched path some transports have for puts with options.
            const options = value % 2 === 0 ? {} : { timeoutMs: 60_000 };
            outcomes.push(
              queue.put(value, options).then(
                () => ({ values: [value] }),
                (error: unknown) => ({ values: [value], error }),
              ),
            );
          }
          const batch = Array.from({ length: 10 }, () => next++);
          outcomes.push(
            queue.putMany(batch).then(
              () => ({ values: batch }),
              (error: unknown) => ({ values: batch, error }),
            ),
          );
        };
        issue(40);
        await sleep(1);
        issue(40);
        const breaking = faults.breakConnection(victim);
        issue(40); // issued after the break, before the client can know of it
        await breaking;
        await sleep(1);
        issue(40);
        const settled = await within(
          Promise.all(outcomes),
          recovery + 10_000,
          'every put to resolve or reject after the break',
        );
        const resolved = settled.filter((outcome) => outcome.error === undefined).flatMap((o) => o.values);
        for (const outcome of settled) {
          if (outcome.error !== undefined) expect(outcome.error).toBeInstanceOf(Error);
        }
        const reader = await (await ctx.connect()).queue<number>(name);
        const stored = (await takeAll(reader, timing.toleranceMs * 2, next * 2)).map((d) => d.body);
        const storedSet = new Set(stored);
        expect(resolved.filter((value) => !storedSet.has(value))).toEqual([]);
        expect(stored.every((value) => Number.isInteger(value) && value >= 0 && value < next)).toBe(true);
      });

      test('a get waiting during a break settles, and the item it may have taken is not lost', async (ctx) => {
        const name = ctx.name('waiting-get');
        const producer = await (await ctx.connect()).queue<string>(name);
        const victim = await ctx.connect();
        const queue = await victim.queue<string>(name);
        const waiting = queue.get({ timeoutMs: recovery * 2 }).then(
          (delivery) => ({ delivery }),
          (error: unknown) => ({ error }),
        );
        await sleep(timing.toleranceMs / 2);
        await faults.breakConnection(victim);
        if (faults.reconnects) await reconnected(queue);
        await producer.put('after the break');
        const outcome = await within(waiting, recovery * 3, 'the waiting get to settle');
        if ('delivery' in outcome) {
          expect(outcome.delivery.body).toBe('after the break');
          await outcome.delivery.ack();
          await expectRejects(producer.get({ timeoutMs: recovery }), QueueEmptyError);
        } else {
          expect(outcome.error).toBeInstanceOf(Error);
          // A take whose reply was lost may hold the item for a while: it is back within recoveryMs.
          const delivery = await producer.get({ timeoutMs: recovery });
          expect(delivery.body).toBe('after the break');
          await delivery.ack();
        }
      });

      if (faults.reconnects) {
        test('a drop the connection rides out is not reported on its error event', async (ctx) => {
          const connection = await ctx.connect();
          const errors: Error[] = [];
          connection.on('error', (error) => errors.push(error));
          const queue = await connection.queue<number>(ctx.name('ridden-out'));
          await faults.breakConnection(connection);
          await reconnected(queue);
          await queue.put(1);
          expect(await queue.size()).toBe(1);
          expect(errors).toEqual([]);
        });

        test('a consumer resumes after the break with one subscription: each item once, one prefetch window', async (ctx) => {
          const name = ctx.name('resume');
          const producerConnection = await ctx.connect();
          const producer = await producerConnection.queue<number>(name);
          const victim = await ctx.connect();
          const queue = await victim.queue<number>(name);
          const seen: number[] = [];
          const held: Delivery<number>[] = [];
          let holding = false;
          await queue.consume(
            async (delivery) => {
              seen.push(delivery.body);
              if (holding) held.push(delivery);
              else await delivery.ack();
            },
            { prefetch: 4 },
          );
          const broadcasts: string[] = [];
          const channel = ctx.name('resume-channel');
          if (caps.broadcast) await victim.subscribe<string>(channel, (message) => broadcasts.push(message));
          await producer.putMany([0, 1, 2, 3, 4]);
          await until(() => seen.length === 5, 5000, 'the first five items');
          await sleep(timing.toleranceMs); // their acks reach the backend before the break

          await faults.breakConnection(victim);
          await reconnected(queue);
          holding = true;
          const after = Array.from({ length: 12 }, (_, i) => 100 + i);
          await producer.putMany(after);
          await until(() => held.length === 4, recovery, 'the resumed consumer to fill its prefetch window');
          await sleep(timing.toleranceMs);
          expect(held.length, 'one subscription holds one prefetch window').toBe(4);
          holding = false;
          for (const delivery of held.splice(0)) await delivery.ack();
          await until(() => seen.length >= 5 + after.length, recovery, 'every item put after the break');
          await sleep(timing.toleranceMs);
          expect(seen.slice(0, 5)).toEqual([0, 1, 2, 3, 4]);
          expect(seen.slice(5).sort((a, b) => a - b)).toEqual(after);

          if (caps.broadcast) {
            // A broadcast reaches current subscribers only: publish until the resubscription hears one.
            let probes = 0;
            await until(
              async () => {
                await producerConnection.publish(channel, `probe-${probes++}`);
                await sleep(50);
                return broadcasts.length > 0;
              },
              recovery,
              'the resubscribed broadcast handler',
            );
            for (const message of ['m1', 'm2', 'm3']) await producerConnection.publish(channel, message);
            await until(() => broadcasts.includes('m3'), 5000, 'the broadcasts after the break');
            await sleep(timing.toleranceMs);
            expect(
              [...counts(broadcasts).values()].every((n) => n === 1),
              'each broadcast heard once',
            ).toBe(true);
            expect(broadcasts.filter((message) => message.startsWith('m'))).toEqual(['m1', 'm2', 'm3']);
          }
        });
      } else {
        test('a broken connection stays broken: its consumer gets nothing more, its operations reject with ConnectionClosedError', async (ctx) => {
          const name = ctx.name('ended');
          const producer = await (await ctx.connect()).queue<number>(name);
          const victim = await ctx.connect();
          const queue = await victim.queue<number>(name);
          const seen: number[] = [];
          await queue.consume(async (delivery) => {
            // Counted once acked: an ack still in a batch when the link drops is lost with it (at-least-once).
            await delivery.ack();
            seen.push(delivery.body);
          });
          await producer.putMany([1, 2]);
          await until(() => seen.length === 2, 5000, 'the first two items acked');
          await faults.breakConnection(victim);
          await expectRejects(
            within(queue.put(3), recovery, 'a put on the broken connection'),
            ConnectionClosedError,
          );
          await expectRejects(
            within(queue.get({ timeoutMs: timing.toleranceMs }), recovery, 'a get on the broken connection'),
            ConnectionClosedError,
          );
          await producer.putMany([10, 11]);
          await sleep(timing.toleranceMs);
          expect(seen).toEqual([1, 2]);
          const rest = await takeAll(producer, timing.toleranceMs, 10);
          expect(rest.map((delivery) => delivery.body)).toEqual([10, 11]);
        });
      }

      test('a settle after the break is a harmless no-op: it touches no later delivery, loses and doubles nothing', async (ctx) => {
        const name = ctx.name('late-settle');
        const producer = await (await ctx.connect()).queue<number>(name);
        await producer.putMany([1, 2, 3]);
        const victim = await ctx.connect();
        const queue = await victim.queue<number>(name);
        const old: Delivery<number>[] = [];
        for (let i = 0; i < 3; i++) old.push(await queue.get({ timeoutMs: 5000 }));
        expect(old.map((delivery) => delivery.body)).toEqual([1, 2, 3]);
        await faults.breakConnection(victim);
        // Deliveries the connection takes after it is back: a late settle of an old delivery must
        // not land on one of them (a reused delivery tag, say).
        const fresh: Delivery<number>[] = [];
        if (faults.reconnects) {
          await reconnected(queue);
          await producer.putMany([10, 11, 12]);
          for (let i = 0; i < 3; i++) fresh.push(await queue.get({ timeoutMs: recovery }));
        }
        await within(old[0]!.ack(), recovery, 'an ack after the break');
        await within(old[1]!.nack({ requeue: true }), recovery, 'a nack after the break');
        for (const delivery of fresh) await delivery.ack();
        // Everything left comes back once: the never-settled item, the late-settled ones at most
        // once (the break may have returned them before the settle), and nothing acked fresh.
        const back = await takeAll(producer, recovery, 20);
        const backBodies = back.map((delivery) => delivery.body);
        expect(
          [...counts(backBodies).values()].every((n) => n === 1),
          `came back twice: ${backBodies}`,
        ).toBe(true);
        const freshBodies = fresh.map((delivery) => delivery.body);
        expect(
          backBodies.filter((body) => freshBodies.includes(body)),
          'acked deliveries came back',
        ).toEqual([]);
        const accounted = new Set([...freshBodies, ...backBodies]);
        for (const body of [3, ...(faults.reconnects ? [10, 11, 12] : [])]) {
          expect(accounted.has(body), `item ${body} was lost`).toBe(true);
        }
        for (const delivery of [...fresh, ...back]) {
          expect(delivery.attempt, `attempt of item ${delivery.body}`).toBe(delivery.body < 10 ? 2 : 1);
        }
      });
    },
    faults.connect,
  );
}

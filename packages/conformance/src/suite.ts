import {
  type Capabilities,
  ConfigError,
  ConnectionClosedError,
  type Delivery,
  type DistributedQueue,
  FrameTooLargeError,
  MAX_DURATION_MS,
  QueueEmptyError,
  QueueFullError,
  UnsupportedError,
} from '@taskwire/core';
import { describe, expect, it } from 'vitest';
import { CaseContext, type ConformanceOptions, runPrefix, sleep, type Timing, within } from './context.js';

/**
 * The long delay the suite puts and nacks with (25 days, past `setTimeout`'s 2^31 - 1 ms). A
 * transport that keeps one backend object per delay (RabbitMQ's TTL queues) can clean it up.
 */
export const LONG_DELAY_MS = 25 * 24 * 60 * 60 * 1000;

const DEFAULT_TIMING: Timing = { toleranceMs: 300, visibilityTimeoutMs: 600, delayMs: 400 };

/** Take `count` deliveries with `get`, acking each, and return their bodies. */
async function drain<T>(queue: DistributedQueue<T>, count: number, timeoutMs = 5000): Promise<T[]> {
  const bodies: T[] = [];
  for (let i = 0; i < count; i++) {
    const delivery = await queue.get({ timeoutMs });
    bodies.push(delivery.body);
    await delivery.ack();
  }
  return bodies;
}

/** Expect `promise` to reject with an error that `ErrorClass.isInstance` recognises. */
async function expectRejects(
  promise: Promise<unknown>,
  ErrorClass: { isInstance(error: unknown): boolean; name: string },
): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason as Error,
  );
  expect(error, `expected a ${ErrorClass.name}`).toBeInstanceOf(Error);
  expect(
    ErrorClass.isInstance(error),
    `expected ${ErrorClass.name}, got ${error?.name}: ${error?.message}`,
  ).toBe(true);
  return error!;
}

/**
 * Register the conformance cases for one transport with vitest. Call it at the top level of a
 * test file:
 *
 * ```ts
 * runConformanceSuite({ name: 'redis', connect: (o) => transport.connect({ url, ...o }), capabilities: transport.capabilities });
 * ```
 *
 * Every capability gates its own cases: a declared capability runs its behaviour cases, an
 * undeclared one runs a case proving the option is refused with `UnsupportedError`. Nothing is
 * ever skipped.
 */
export function runConformanceSuite(options: ConformanceOptions): void {
  const timing: Timing = { ...DEFAULT_TIMING, ...options.timing };
  const caps: Capabilities = options.capabilities;
  const prefix = runPrefix();
  let caseNumber = 0;

  /** Define a case with its own namespace and cleanup. */
  const test = (title: string, body: (ctx: CaseContext) => Promise<void>, timeoutMs = 30_000) =>
    it(
      title,
      async () => {
        const ctx = new CaseContext(options, `${prefix}.${++caseNumber}`);
        try {
          await body(ctx);
        } finally {
          await ctx.dispose();
        }
      },
      timeoutMs,
    );

  describe(`${options.name} conformance`, () => {
    describe('ordering', () => {
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

    describe('bounded queues', () => {
      if (caps.maxsize) {
        test('a put on a full queue waits for room and then succeeds', async (ctx) => {
          const queue = await (await ctx.connect()).queue<number>(ctx.name('bounded'), { maxsize: 2 });
          await queue.put(1);
          await queue.put(2);
          let settled = false;
          const blocked = queue.put(3).then(() => {
            settled = true;
          });
          await sleep(timing.toleranceMs);
          expect(settled, 'put on a full queue must wait').toBe(false);
          const first = await queue.get({ timeoutMs: 5000 });
          await first.ack();
          await within(blocked, 5000, 'the blocked put to finish once room appeared');
          expect(await drain(queue, 2)).toEqual([2, 3]);
        });

        test('a put that cannot get room within timeoutMs rejects with QueueFullError', async (ctx) => {
          const queue = await (await ctx.connect()).queue<number>(ctx.name('bounded-timeout'), {
            maxsize: 1,
          });
          await queue.put(1);
          const started = Date.now();
          await expectRejects(queue.put(2, { timeoutMs: timing.delayMs }), QueueFullError);
          const waited = Date.now() - started;
          expect(waited).toBeGreaterThanOrEqual(timing.delayMs - 20);
          expect(waited).toBeLessThan(timing.delayMs + timing.toleranceMs * 3);
          expect(await queue.size()).toBe(1);
        });

        test('timeoutMs: 0 never waits', async (ctx) => {
          const queue = await (await ctx.connect()).queue<number>(ctx.name('bounded-nowait'), { maxsize: 1 });
          await queue.put(1, { timeoutMs: 0 });
          const started = Date.now();
          await expectRejects(queue.put(2, { timeoutMs: 0 }), QueueFullError);
          expect(Date.now() - started).toBeLessThan(timing.toleranceMs * 2);
        });
      } else {
        test('maxsize is refused with UnsupportedError', async (ctx) => {
          const connection = await ctx.connect();
          await expectRejects(connection.queue(ctx.name('bounded'), { maxsize: 2 }), UnsupportedError);
        });
      }
    });

    describe('get', () => {
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

    describe('acknowledgement', () => {
      test('ack removes the item for good', async (ctx) => {
        const name = ctx.name('ack');
        const first = await ctx.connect();
        const queue = await first.queue<string>(name);
        await queue.put('once');
        const delivery = await queue.get({ timeoutMs: 5000 });
        await delivery.ack();
        expect(await queue.size()).toBe(0);
        await first.close();
        const second = await (await ctx.connect()).queue<string>(name);
        await expectRejects(second.get({ timeoutMs: timing.toleranceMs }), QueueEmptyError);
      });

      test('nack with requeue redelivers the item with attempt 2 and the same id', async (ctx) => {
        const queue = await (await ctx.connect()).queue<string>(ctx.name('nack'));
        await queue.put('again');
        const first = await queue.get({ timeoutMs: 5000 });
        expect(first.attempt).toBe(1);
        await first.nack({ requeue: true });
        const second = await queue.get({ timeoutMs: 5000 });
        expect(second.body).toBe('again');
        expect(second.attempt).toBe(2);
        expect(second.id).toBe(first.id);
        await second.ack();
      });

      test('a requeued item is served after the items already waiting (fifo)', async (ctx) => {
        const queue = await (await ctx.connect()).queue<string>(ctx.name('nack-order'));
        await queue.putMany(['a', 'b', 'c']);
        const a = await queue.get({ timeoutMs: 5000 });
        await a.nack({ requeue: true });
        expect(await drain(queue, 3)).toEqual(['b', 'c', 'a']);
      });

      test('nack with countAttempt: false gives the item back with the same attempt; a plain nack counts one', async (ctx) => {
        const queue = await (await ctx.connect()).queue<string>(ctx.name('nack-uncounted'));
        await queue.put('prefetched');
        const first = await queue.get({ timeoutMs: 5000 });
        expect(first.attempt).toBe(1);
        await first.nack({ requeue: true, countAttempt: false });
        const second = await queue.get({ timeoutMs: 5000 });
        expect(second.body).toBe('prefetched');
        expect(second.id).toBe(first.id);
        expect(second.attempt).toBe(1);
        await second.nack({ requeue: true });
        const third = await queue.get({ timeoutMs: 5000 });
        expect(third.attempt).toBe(2);
        await third.nack({ requeue: true, countAttempt: false });
        const fourth = await queue.get({ timeoutMs: 5000 });
        expect(fourth.attempt).toBe(2);
        await fourth.ack();
        await expectRejects(queue.get({ timeoutMs: timing.toleranceMs }), QueueEmptyError);
      });

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

      test('settling a delivery twice is harmless', async (ctx) => {
        const queue = await (await ctx.connect()).queue<number>(ctx.name('double-ack'));
        await queue.putMany([1, 2]);
        const delivery = await queue.get({ timeoutMs: 5000 });
        await delivery.ack();
        await delivery.ack();
        await delivery.nack();
        expect(await drain(queue, 1)).toEqual([2]);
        await expectRejects(queue.get({ timeoutMs: timing.toleranceMs }), QueueEmptyError);
      });
    });

    describe('redelivery', () => {
      test("a closed connection's unacked deliveries go to another connection's consumer", async (ctx) => {
        const name = ctx.name('crash');
        const doomed = await ctx.connect();
        const producer = await (await ctx.connect()).queue<number>(name);
        await producer.putMany([1, 2, 3]);
        const victim = await doomed.queue<number>(name);
        const held = [await victim.get({ timeoutMs: 5000 }), await victim.get({ timeoutMs: 5000 })];
        expect(held.map((d) => d.body)).toEqual([1, 2]);

        const survivor = await (await ctx.connect()).queue<number>(name);
        const received: Delivery<number>[] = [];
        const done = new Promise<void>((resolve) => {
          void survivor.consume(
            async (delivery) => {
              received.push(delivery);
              await delivery.ack();
              if (received.length === 3) resolve();
            },
            { prefetch: 10 },
          );
        });
        await doomed.close();
        await within(done, 10_000, 'redelivery after the connection closed');
        expect(received.map((d) => d.body).sort()).toEqual([1, 2, 3]);
        const redelivered = received.filter((d) => d.body !== 3);
        expect(redelivered.every((d) => d.attempt === 2)).toBe(true);
      });

      test('every closed connection counts an attempt: 1, 2, 3 across two drops', async (ctx) => {
        const name = ctx.name('drops');
        const producer = await (await ctx.connect()).queue<string>(name);
        await producer.put('poison');
        const attempts: number[] = [];
        for (let drop = 0; drop < 2; drop++) {
          const doomed = await ctx.connect();
          const delivery = await (await doomed.queue<string>(name)).get({ timeoutMs: 10_000 });
          attempts.push(delivery.attempt);
          await doomed.close(); // gone without settling, like a worker that crashed
        }
        const last = await producer.get({ timeoutMs: 10_000 });
        attempts.push(last.attempt);
        expect(last.body).toBe('poison');
        await last.ack();
        expect(attempts).toEqual([1, 2, 3]);
      });

      test("a closed connection's delivery goes back after the items already waiting", async (ctx) => {
        const name = ctx.name('crash-order');
        const producer = await (await ctx.connect()).queue<string>(name);
        await producer.put('poison');
        await producer.putMany(['b', 'c']);
        const doomed = await ctx.connect();
        const poison = await (await doomed.queue<string>(name)).get({ timeoutMs: 5000 });
        expect(poison.body).toBe('poison');
        await doomed.close();
        // The next worker gets the healthy items first: a poison task cannot stall the queue.
        const order: [string, number][] = [];
        for (let i = 0; i < 3; i++) {
          const delivery = await producer.get({ timeoutMs: 10_000 });
          order.push([delivery.body, delivery.attempt]);
          await delivery.ack();
        }
        expect(order).toEqual([
          ['b', 1],
          ['c', 1],
          ['poison', 2],
        ]);
      });

      if (caps.priority) {
        test("a closed connection's delivery goes back after waiting items of its priority, before lower ones", async (ctx) => {
          const name = ctx.name('crash-order-prio');
          const producer = await (await ctx.connect()).queue<string>(name, { order: 'priority' });
          await producer.put('high-poison', { priority: 5 });
          await producer.put('high', { priority: 5 });
          await producer.put('low', { priority: 1 });
          const doomed = await ctx.connect();
          const poison = await (await doomed.queue<string>(name)).get({ timeoutMs: 5000 });
          expect(poison.body).toBe('high-poison');
          await doomed.close();
          const order: string[] = [];
          for (let i = 0; i < 3; i++) {
            const delivery = await producer.get({ timeoutMs: 10_000 });
            order.push(delivery.body);
            await delivery.ack();
          }
          expect(order).toEqual(['high', 'high-poison', 'low']);
        });
      }

      test('an unacked delivery becomes visible again after the visibility timeout', async (ctx) => {
        const name = ctx.name('visibility');
        const connection = await ctx.connect();
        const queue = await connection.queue<string>(name, {
          visibilityTimeoutMs: timing.visibilityTimeoutMs,
        });
        await queue.put('slow');
        const first = await queue.get({ timeoutMs: 5000 });
        const takenAt = Date.now();
        await expectRejects(queue.get({ timeoutMs: timing.visibilityTimeoutMs / 3 }), QueueEmptyError);
        const second = await queue.get({ timeoutMs: timing.visibilityTimeoutMs + timing.toleranceMs * 10 });
        expect(Date.now() - takenAt).toBeGreaterThanOrEqual(timing.visibilityTimeoutMs - 50);
        expect(second.body).toBe('slow');
        expect(second.attempt).toBe(2);
        expect(second.id).toBe(first.id);
        await second.ack();
        // The late ack of the expired first delivery must not resurrect or duplicate anything.
        await first.ack().catch(() => undefined);
        await expectRejects(queue.get({ timeoutMs: timing.toleranceMs }), QueueEmptyError);
      });

      test('a delivery returned by a closed connection and acked elsewhere never comes back', async (ctx) => {
        const name = ctx.name('returned-acked');
        const options = { visibilityTimeoutMs: timing.visibilityTimeoutMs };
        const holder = await ctx.connect();
        const held = await holder.queue<string>(name, options);
        await held.put('once');
        expect((await held.get({ timeoutMs: 5000 })).attempt).toBe(1);
        await holder.close();
        const other = await (await ctx.connect()).queue<string>(name, options);
        const again = await other.get({ timeoutMs: 5000 + timing.visibilityTimeoutMs });
        expect(again.body).toBe('once');
        expect(again.attempt).toBe(2);
        await again.ack();
        // Past the deadline the first delivery had: nothing may resurrect the acked item.
        await sleep(timing.visibilityTimeoutMs + timing.toleranceMs);
        expect(await other.size()).toBe(0);
        const third = await (await ctx.connect()).queue<string>(name, options);
        await expectRejects(third.get({ timeoutMs: timing.toleranceMs }), QueueEmptyError);
      });

      test("a returned delivery's old visibility deadline never cuts its next delivery short", async (ctx) => {
        const name = ctx.name('returned-deadline');
        const options = { visibilityTimeoutMs: timing.visibilityTimeoutMs };
        const holder = await ctx.connect();
        const held = await holder.queue<string>(name, options);
        await held.put('item');
        await held.get({ timeoutMs: 5000 });
        await sleep(timing.visibilityTimeoutMs / 2);
        await holder.close();
        const second = await (await ctx.connect()).queue<string>(name, options);
        const redelivered = await second.get({ timeoutMs: 5000 + timing.visibilityTimeoutMs });
        expect(redelivered.attempt).toBe(2);
        // The first delivery's deadline passes in this window; the second one's does not.
        const third = await (await ctx.connect()).queue<string>(name, options);
        await expectRejects(third.get({ timeoutMs: (timing.visibilityTimeoutMs * 3) / 4 }), QueueEmptyError);
        await redelivered.ack();
        await expectRejects(third.get({ timeoutMs: timing.visibilityTimeoutMs }), QueueEmptyError);
      });

      test('a consume handler that throws gets the delivery redelivered', async (ctx) => {
        const queue = await (await ctx.connect()).queue<string>(ctx.name('throws'));
        await queue.put('boom');
        const attempts: number[] = [];
        const done = new Promise<void>((resolve) => {
          void queue.consume(async (delivery) => {
            attempts.push(delivery.attempt);
            if (delivery.attempt === 1) throw new Error('handler failure');
            await delivery.ack();
            resolve();
          });
        });
        await within(done, 10_000, 'the redelivery after a throwing handler');
        expect(attempts).toEqual([1, 2]);
      });
    });

    describe('delays', () => {
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

    describe('durations', () => {
      const BAD_DURATIONS = [-1, Number.NaN, Number.POSITIVE_INFINITY, MAX_DURATION_MS + 1];

      /** Expect a RangeError whose message names `option`. */
      const expectRange = async (promise: Promise<unknown>, option: string) => {
        const error = await promise.then(
          () => undefined,
          (reason: unknown) => reason as Error,
        );
        expect(error, `expected a RangeError naming ${option}`).toBeInstanceOf(RangeError);
        expect(error!.message).toContain(option);
      };

      test('negative, NaN, infinite and too long durations are refused with RangeError', async (ctx) => {
        const connection = await ctx.connect();
        for (const bad of BAD_DURATIONS) {
          await expectRange(
            connection.queue(ctx.name('bad-visibility'), { visibilityTimeoutMs: bad }),
            'visibilityTimeoutMs',
          );
        }
        const queue = await connection.queue<string>(ctx.name('bad-durations'));
        for (const bad of BAD_DURATIONS) {
          await expectRange(queue.put('x', { timeoutMs: bad }), 'timeoutMs');
          await expectRange(queue.putMany(['x'], { timeoutMs: bad }), 'timeoutMs');
          await expectRange(queue.get({ timeoutMs: bad }), 'timeoutMs');
          if (caps.delayed) {
            await expectRange(queue.put('x', { delayMs: bad }), 'delayMs');
            await expectRange(queue.putMany(['x'], { delayMs: bad }), 'delayMs');
          }
        }
        expect(await queue.size()).toBe(0);
        await queue.put('held');
        const delivery = await queue.get({ timeoutMs: 5000 });
        if (caps.delayed) {
          for (const bad of BAD_DURATIONS) await expectRange(delivery.nack({ delayMs: bad }), 'delayMs');
        }
        // A refused nack settled nothing: the delivery is still ours to ack.
        await delivery.ack();
        await expectRejects(queue.get({ timeoutMs: timing.toleranceMs }), QueueEmptyError);
      });

      test('waits longer than 2^31 - 1 ms really wait (no timer overflow)', async (ctx) => {
        const overflows: Error[] = [];
        const onWarning = (warning: Error) => {
          if (warning.name === 'TimeoutOverflowWarning') overflows.push(warning);
        };
        process.on('warning', onWarning);
        try {
          const connection = await ctx.connect();
          const queue = await connection.queue<string>(ctx.name('long'), {
            visibilityTimeoutMs: LONG_DELAY_MS,
          });
          const waiting = queue.get({ timeoutMs: 2 ** 31 });
          let outcome = 'pending';
          waiting.then(
            () => {
              outcome = 'resolved';
            },
            (error: Error) => {
              outcome = `rejected: ${error.name}`;
            },
          );
          await sleep(timing.toleranceMs);
          expect(outcome, 'a get with timeoutMs 2^31 must still be waiting').toBe('pending');
          await queue.put('held');
          const held = await within(waiting, 5000, 'the long get to receive an item');
          // Its visibility timeout is 25 days: it must not come back now.
          await expectRejects(queue.get({ timeoutMs: timing.toleranceMs }), QueueEmptyError);
          if (caps.delayed) {
            await queue.put('later', { delayMs: LONG_DELAY_MS });
            await held.nack({ requeue: true, delayMs: LONG_DELAY_MS });
            await expectRejects(queue.get({ timeoutMs: timing.toleranceMs }), QueueEmptyError);
            expect(await queue.size()).toBe(2);
          } else {
            await held.ack();
          }
          if (caps.maxsize) {
            const bounded = await connection.queue<number>(ctx.name('long-full'), { maxsize: 1 });
            await bounded.put(1);
            let putOutcome = 'pending';
            const blocked = bounded.put(2, { timeoutMs: 2 ** 31 });
            blocked.then(
              () => {
                putOutcome = 'resolved';
              },
              (error: Error) => {
                putOutcome = `rejected: ${error.name}`;
              },
            );
            await sleep(timing.toleranceMs);
            expect(putOutcome, 'a put with timeoutMs 2^31 on a full queue must still be waiting').toBe(
              'pending',
            );
            await bounded.purge();
            await within(blocked, 10_000, 'the long put to get room');
          }
          expect(overflows.map((warning) => warning.message)).toEqual([]);
        } finally {
          process.off('warning', onWarning);
        }
      });
    });

    describe('throughput shapes', () => {
      test('putMany stores every item in order', async (ctx) => {
        const queue = await (await ctx.connect()).queue<number>(ctx.name('putmany'));
        const items = Array.from({ length: 500 }, (_, i) => i);
        await queue.putMany(items);
        expect(await queue.size()).toBe(500);
        expect(await drain(queue, 500)).toEqual(items);
      });

      test('consume never holds more than prefetch unsettled deliveries', async (ctx) => {
        const queue = await (await ctx.connect()).queue<number>(ctx.name('prefetch'));
        await queue.putMany(Array.from({ length: 30 }, (_, i) => i));
        const held: Delivery<number>[] = [];
        const handle = await queue.consume(
          (delivery) => {
            held.push(delivery);
          },
          { prefetch: 5 },
        );
        await sleep(timing.toleranceMs);
        expect(held.length).toBe(5);
        for (const delivery of held.splice(0, 5)) await delivery.ack();
        await sleep(timing.toleranceMs);
        expect(held.length).toBe(5);
        await handle.cancel();
        for (const delivery of held.splice(0)) await delivery.ack();
        expect(await queue.size()).toBe(20);
      });

      test('a cancelled consumer receives nothing more', async (ctx) => {
        const queue = await (await ctx.connect()).queue<number>(ctx.name('cancel'));
        const seen: number[] = [];
        const handle = await queue.consume(async (delivery) => {
          seen.push(delivery.body);
          await delivery.ack();
        });
        await queue.put(1);
        await within(
          (async () => {
            while (seen.length < 1) await sleep(10);
          })(),
          5000,
          'the first delivery',
        );
        await handle.cancel();
        await queue.put(2);
        await sleep(timing.toleranceMs);
        expect(seen).toEqual([1]);
        expect(await drain(queue, 1)).toEqual([2]);
      });

      test('4 concurrent consumers × 400 items: every item delivered exactly once', async (ctx) => {
        const name = ctx.name('fanout');
        const producer = await (await ctx.connect()).queue<number>(name);
        const total = 400;
        const counts = new Map<number, number>();
        let received = 0;
        let finish: () => void = () => undefined;
        const done = new Promise<void>((resolve) => {
          finish = resolve;
        });
        for (let c = 0; c < 4; c++) {
          const queue = await (await ctx.connect()).queue<number>(name);
          await queue.consume(
            async (delivery) => {
              counts.set(delivery.body, (counts.get(delivery.body) ?? 0) + 1);
              await delivery.ack();
              if (++received === total) finish();
            },
            { prefetch: 8 },
          );
        }
        await producer.putMany(Array.from({ length: total }, (_, i) => i));
        await within(done, 20_000, `${total} deliveries`);
        await sleep(timing.toleranceMs);
        expect(received).toBe(total);
        expect(counts.size).toBe(total);
        expect([...counts.values()].every((n) => n === 1)).toBe(true);
      });
    });

    describe('payloads', () => {
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

    describe('queues and connections', () => {
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
        const error = await expectRejects(
          connection.queue(name, { visibilityTimeoutMs: 60_000 }),
          ConfigError,
        );
        expect(error.message).toContain(name);
        // The connection is still usable for everyone else.
        const other = await connection.queue<number>(ctx.name('after-conflict'));
        await other.put(1);
        expect(await drain(other, 1)).toEqual([1]);
      });
    });

    describe('broadcast', () => {
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
  });
}

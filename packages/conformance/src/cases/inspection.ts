import {
  type Connection,
  type Delivery,
  type PeekedItem,
  QueueEmptyError,
  QueueNotFoundError,
  type QueueStats,
  UnsupportedError,
} from '@taskwire/core';
import { expect } from 'vitest';
import { drain, expectRejects, until } from '../assertions.js';
import type { BaseConformanceOptions, RawPut } from '../context.js';
import { defineGroup } from '../define.js';
import { LONG_DELAY_MS } from '../long-delay.js';

/** Bytes no msgpack decoder accepts (the reserved byte 0xc1). */
const UNDECODABLE = Uint8Array.of(0xc1);

/** How long a count may take to show what was done (backends whose counters lag a little). */
const SETTLE_MS = 5000;

/** The counts a case expects; `inFlight` and `consumers` are checked only where the backend reports them. */
type ExpectedStats = Partial<Pick<QueueStats, 'ready' | 'delayed' | 'inFlight' | 'consumers'>> & {
  deadLetter?: { name: string; size: number };
};

/** Wait until `connection.stats(name)` shows `expected` (failing with the last stats seen), and return them. */
async function expectStats(
  connection: Connection,
  name: string,
  expected: ExpectedStats,
): Promise<QueueStats> {
  let last: QueueStats | undefined;
  const matches = (stats: QueueStats) =>
    (expected.ready === undefined || stats.ready === expected.ready) &&
    (expected.delayed === undefined || stats.delayed === expected.delayed) &&
    (expected.inFlight === undefined ||
      stats.inFlight === undefined ||
      stats.inFlight === expected.inFlight) &&
    (expected.consumers === undefined ||
      stats.consumers === undefined ||
      stats.consumers === expected.consumers) &&
    (expected.deadLetter === undefined ||
      (stats.deadLetter.name === expected.deadLetter.name &&
        stats.deadLetter.size === expected.deadLetter.size));
  await until(
    async () => {
      last = await connection.stats(name);
      return matches(last);
    },
    SETTLE_MS,
    `stats of "${name}" to be ${JSON.stringify(expected)}`,
  ).catch((error: Error) => {
    throw new Error(`${error.message}; last stats ${JSON.stringify(last)}`);
  });
  expect(last!.name).toBe(name);
  return last!;
}

/** The bodies of peeked items. */
const bodies = <T>(items: PeekedItem<T>[]) => items.map((item) => item.body);

/**
 * Inspection: `stats`, `peek` and `listQueues` (each gated by its capability: refused with `UnsupportedError`
 * without it) and `moveItems` and `purgeQueue` (every transport). Every call is made from a connection that did
 * not declare the queue, as an admin tool would.
 */
export function inspectionCases(options: BaseConformanceOptions & { rawPut: RawPut }): void {
  const { rawPut } = options;
  defineGroup(options, 'inspection', ({ test, caps, timing }) => {
    if (caps.stats) {
      test('stats counts ready, delayed and in-flight items and consumers', async (ctx) => {
        const name = ctx.name('stats');
        const queue = await (await ctx.connect()).queue<number>(name);
        const admin = await ctx.connect();
        const empty = await expectStats(admin, name, { ready: 0, delayed: 0, inFlight: 0, consumers: 0 });
        expect(empty.deadLetter).toEqual({ name: `${name}.dead`, size: 0 });
        await queue.putMany([1, 2, 3]);
        if (caps.delayed) {
          await queue.put(4, { delayMs: LONG_DELAY_MS });
          await queue.put(5, { delayMs: LONG_DELAY_MS });
        }
        const held = await queue.get({ timeoutMs: 5000 });
        const delayed = caps.delayed ? 2 : 0;
        await expectStats(admin, name, { ready: 2, delayed, inFlight: 1 });
        await held.ack();
        await expectStats(admin, name, { ready: 2, delayed, inFlight: 0 });

        // A consumer on a queue with nothing ready, holding nothing: counted while it runs.
        const idleName = ctx.name('stats-consumers');
        const idle = await (await ctx.connect()).queue<number>(idleName);
        const handle = await idle.consume(async (delivery) => delivery.ack());
        await expectStats(admin, idleName, { consumers: 1 });
        await handle.cancel();
        await expectStats(admin, idleName, { consumers: 0 });
      });

      test('stats reads a queue without declaring it and refuses an unknown one with QueueNotFoundError', async (ctx) => {
        const admin = await ctx.connect();
        const missing = ctx.name('never-declared');
        await expectRejects(admin.stats(missing), QueueNotFoundError);
        // Asking did not create it.
        await expectRejects(admin.stats(missing), QueueNotFoundError);
        const name = ctx.name('deleted');
        const queue = await (await ctx.connect()).queue<number>(name);
        await queue.put(1);
        await expectStats(admin, name, { ready: 1 });
        await queue.delete();
        await expectRejects(admin.stats(name), QueueNotFoundError);
      });

      test('stats reports <name>.dead and its size once an undecodable item is dead-lettered there', async (ctx) => {
        const name = ctx.name('stats-undecodable');
        ctx.name('stats-undecodable.dead');
        const queue = await (await ctx.connect()).queue<string>(name);
        const admin = await ctx.connect();
        await rawPut(name, UNDECODABLE);
        await queue.put('good');
        const delivery = await queue.get({ timeoutMs: 5000 });
        expect(delivery.body).toBe('good');
        await delivery.ack();
        await expectStats(admin, name, { ready: 0, deadLetter: { name: `${name}.dead`, size: 1 } });
      });

      if (caps.deadLetter) {
        test("stats reports the queue's deadLetter queue and its size, after a nack without requeue", async (ctx) => {
          const name = ctx.name('stats-dl');
          const deadName = ctx.name('stats-dl-target');
          const connection = await ctx.connect();
          const queue = await connection.queue<number>(name, { deadLetter: deadName });
          const admin = await ctx.connect();
          await expectStats(admin, name, { deadLetter: { name: deadName, size: 0 } });
          await queue.putMany([1, 2]);
          const delivery = await queue.get({ timeoutMs: 5000 });
          await delivery.nack({ requeue: false });
          await expectStats(admin, name, { ready: 1, inFlight: 0, deadLetter: { name: deadName, size: 1 } });
          await expectStats(admin, deadName, { ready: 1 });
        });
      }
    } else {
      test('stats is refused with UnsupportedError', async (ctx) => {
        const name = ctx.name('stats');
        await (await ctx.connect()).queue(name);
        await expectRejects((await ctx.connect()).stats(name), UnsupportedError);
      });
    }

    if (caps.peek) {
      test('peek shows ready items in serving order, with ids and attempts, without taking them', async (ctx) => {
        const name = ctx.name('peek');
        const queue = await (await ctx.connect()).queue<string>(name);
        const admin = await ctx.connect();
        expect(await admin.peek(name)).toEqual([]);
        await queue.putMany(['a', 'b', 'c', 'd']);
        const a = await queue.get({ timeoutMs: 5000 });
        await a.nack({ requeue: true });
        const held = await queue.get({ timeoutMs: 5000 });
        expect(held.body).toBe('b');
        // b is in flight: not shown. a went back behind c and d, with its delivery counted.
        const peeked = await admin.peek<string>(name);
        expect(bodies(peeked)).toEqual(['c', 'd', 'a']);
        expect(peeked.map((item) => item.attempts)).toEqual([0, 0, 1]);
        expect(peeked.every((item) => item.state === 'ready' && item.readyAt === undefined)).toBe(true);
        expect(peeked[2]!.id).toBe(a.id);
        // Nothing was taken, and the ids are the ones the deliveries carry.
        expect(await queue.size()).toBe(3);
        const next = await queue.get({ timeoutMs: 5000 });
        expect(next.body).toBe('c');
        expect(next.id).toBe(peeked[0]!.id);
        expect(next.attempt).toBe(1);
        await Promise.all([next.ack(), held.ack()]);
        expect(await drain(queue, 2)).toEqual(['d', 'a']);
      });

      test('peek limit: 10 by default, at most limit, and a limit outside 1–1000 is a RangeError', async (ctx) => {
        const name = ctx.name('peek-limit');
        const queue = await (await ctx.connect()).queue<number>(name);
        const admin = await ctx.connect();
        await queue.putMany([...Array(12).keys()]);
        expect(bodies(await admin.peek(name))).toEqual([...Array(10).keys()]);
        expect(bodies(await admin.peek(name, { limit: 3 }))).toEqual([0, 1, 2]);
        expect(bodies(await admin.peek(name, { limit: 1000 }))).toEqual([...Array(12).keys()]);
        for (const limit of [0, 1001, 1.5, -1]) {
          await expect(admin.peek(name, { limit })).rejects.toBeInstanceOf(RangeError);
        }
        expect(await queue.size()).toBe(12);
      });

      test('peek refuses an unknown queue with QueueNotFoundError', async (ctx) => {
        await expectRejects((await ctx.connect()).peek(ctx.name('never-declared')), QueueNotFoundError);
      });

      test('peek shows an undecodable payload as its bytes and leaves it in place', async (ctx) => {
        const name = ctx.name('peek-undecodable');
        ctx.name('peek-undecodable.dead');
        const queue = await (await ctx.connect()).queue<string>(name);
        const admin = await ctx.connect();
        await queue.put('before');
        await rawPut(name, UNDECODABLE);
        await queue.put('after');
        const peeked = await admin.peek<string>(name);
        expect(peeked).toHaveLength(3);
        expect(peeked[0]!.body).toBe('before');
        expect(peeked[1]!.body).toBeInstanceOf(Uint8Array);
        expect([...(peeked[1]!.body as Uint8Array)]).toEqual([...UNDECODABLE]);
        expect(peeked[2]!.body).toBe('after');
        expect(await queue.size()).toBe(3);
      });

      if (caps.delayed) {
        test('peek shows delayed items after the ready ones, soonest first, with readyAt', async (ctx) => {
          const name = ctx.name('peek-delayed');
          const queue = await (await ctx.connect()).queue<string>(name);
          const admin = await ctx.connect();
          const before = Date.now();
          await queue.put('later', { delayMs: LONG_DELAY_MS });
          await queue.put('sooner', { delayMs: LONG_DELAY_MS / 2 });
          await queue.put('now');
          const after = Date.now();
          const peeked = await admin.peek<string>(name);
          expect(bodies(peeked)).toEqual(['now', 'sooner', 'later']);
          expect(peeked.map((item) => item.state)).toEqual(['ready', 'delayed', 'delayed']);
          expect(peeked[0]!.readyAt).toBeUndefined();
          const slack = timing.toleranceMs;
          expect(peeked[1]!.readyAt).toBeGreaterThanOrEqual(before + LONG_DELAY_MS / 2 - slack);
          expect(peeked[1]!.readyAt).toBeLessThanOrEqual(after + LONG_DELAY_MS / 2 + slack);
          expect(peeked[2]!.readyAt).toBeGreaterThanOrEqual(before + LONG_DELAY_MS - slack);
          expect(bodies(await admin.peek(name, { limit: 2 }))).toEqual(['now', 'sooner']);
        });
      }

      if (caps.priority) {
        test('peek on a priority queue: larger priority first, fifo among equals, with the priority', async (ctx) => {
          const name = ctx.name('peek-prio');
          const queue = await (await ctx.connect()).queue<string>(name, { order: 'priority' });
          const admin = await ctx.connect();
          const puts: [string, number][] = [
            ['low', 1],
            ['high-a', 9],
            ['mid', 5],
            ['high-b', 9],
            ['zero', 0],
          ];
          for (const [body, priority] of puts) await queue.put(body, { priority });
          const peeked = await admin.peek<string>(name);
          expect(bodies(peeked)).toEqual(['high-a', 'high-b', 'mid', 'low', 'zero']);
          expect(peeked.map((item) => item.priority)).toEqual([9, 9, 5, 1, 0]);
          expect(bodies(await admin.peek(name, { limit: 3 }))).toEqual(['high-a', 'high-b', 'mid']);
          expect(await drain(queue, 5)).toEqual(['high-a', 'high-b', 'mid', 'low', 'zero']);
        });
      }

      if (caps.lifo) {
        test('peek on a lifo queue shows the last item in first', async (ctx) => {
          const name = ctx.name('peek-lifo');
          const queue = await (await ctx.connect()).queue<number>(name, { order: 'lifo' });
          await queue.putMany([1, 2, 3]);
          expect(bodies(await (await ctx.connect()).peek(name))).toEqual([3, 2, 1]);
          expect(await drain(queue, 3)).toEqual([3, 2, 1]);
        });
      }
    } else {
      test('peek is refused with UnsupportedError', async (ctx) => {
        const name = ctx.name('peek');
        await (await ctx.connect()).queue(name);
        await expectRejects((await ctx.connect()).peek(name), UnsupportedError);
      });
    }

    if (caps.listQueues) {
      test('listQueues lists every declared queue, sorted, and no deleted one', async (ctx) => {
        const connection = await ctx.connect();
        // Names shaped like the ones transports derive for themselves are still the user's queues.
        const names = ['b', 'a', 'a.dead', 'a.delayed', 'a:due'].map((label) => ctx.name(`list-${label}`));
        for (const name of names) await connection.queue(name);
        const gone = await connection.queue(ctx.name('list-gone'));
        await gone.delete();
        const listed = await (await ctx.connect()).listQueues();
        expect([...listed].sort()).toEqual(listed);
        const mine = listed.filter((name) => names.includes(name) || name === gone.name);
        expect(mine).toEqual([...names].sort());
      });

      if (caps.deadLetter) {
        test('listQueues lists a deadLetter queue declared with its source', async (ctx) => {
          const connection = await ctx.connect();
          const name = ctx.name('list-source');
          const deadName = ctx.name('list-source-dl');
          await connection.queue(deadName);
          await connection.queue(name, { deadLetter: deadName });
          const listed = await (await ctx.connect()).listQueues();
          expect(listed).toContain(name);
          expect(listed).toContain(deadName);
        });
      }
    } else {
      test('listQueues is refused with UnsupportedError', async (ctx) => {
        await expectRejects((await ctx.connect()).listQueues(), UnsupportedError);
      });
    }

    test('moveItems moves every ready item to the back of the target as fresh items; in-flight ones stay', async (ctx) => {
      const from = ctx.name('move-from');
      const to = ctx.name('move-to');
      const connection = await ctx.connect();
      const source = await connection.queue<string>(from);
      const target = await connection.queue<string>(to);
      await target.put('already-there');
      await source.putMany(['a', 'b', 'c', 'd']);
      const a = await source.get({ timeoutMs: 5000 });
      await a.nack({ requeue: true });
      const held = await source.get({ timeoutMs: 5000 });
      expect(held.body).toBe('b');
      // Served next: c, d, a (a with one delivery behind it).
      expect(await (await ctx.connect()).moveItems(from, to)).toBe(3);
      expect(await source.size()).toBe(0);
      expect(await target.size()).toBe(4);
      const moved: Delivery<string>[] = [];
      for (let i = 0; i < 4; i++) moved.push(await target.get({ timeoutMs: 5000 }));
      expect(moved.map((delivery) => delivery.body)).toEqual(['already-there', 'c', 'd', 'a']);
      expect(moved.map((delivery) => delivery.attempt)).toEqual([1, 1, 1, 1]);
      await Promise.all(moved.map((delivery) => delivery.ack()));
      // The delivery in flight stayed with its queue.
      await held.nack({ requeue: true });
      expect(await drain(source, 1)).toEqual(['b']);
      expect(await (await ctx.connect()).moveItems(from, to)).toBe(0);
    });

    test('moveItems with limit moves the first items in serving order', async (ctx) => {
      const from = ctx.name('move-limit-from');
      const to = ctx.name('move-limit-to');
      const connection = await ctx.connect();
      const source = await connection.queue<number>(from);
      const target = await connection.queue<number>(to);
      await source.putMany([1, 2, 3, 4, 5]);
      expect(await (await ctx.connect()).moveItems(from, to, { limit: 2 })).toBe(2);
      expect(await drain(target, 2)).toEqual([1, 2]);
      expect(await drain(source, 3)).toEqual([3, 4, 5]);
    });

    test('moveItems with ids moves only those items; unknown ids are ignored', async (ctx) => {
      const from = ctx.name('move-ids-from');
      const to = ctx.name('move-ids-to');
      const connection = await ctx.connect();
      const source = await connection.queue<string>(from);
      const target = await connection.queue<string>(to);
      await source.putMany(['a', 'b', 'c', 'd']);
      // Learn the ids from deliveries, then give them back as never delivered.
      const taken: Delivery<string>[] = [];
      for (let i = 0; i < 4; i++) taken.push(await source.get({ timeoutMs: 5000 }));
      for (const delivery of taken) await delivery.nack({ requeue: true, countAttempt: false });
      const ids = [taken[3]!.id, taken[1]!.id, 'no-such-id'];
      expect(await (await ctx.connect()).moveItems(from, to, { ids })).toBe(2);
      // With a limit too: the first of them in serving order.
      const both = [taken[2]!.id, taken[0]!.id];
      expect(await (await ctx.connect()).moveItems(from, to, { ids: both, limit: 1 })).toBe(1);
      expect(await drain(target, 3)).toEqual(['b', 'd', 'a']);
      expect(await drain(source, 1)).toEqual(['c']);
    });

    test('moveItems and purgeQueue refuse an unknown queue with QueueNotFoundError', async (ctx) => {
      const name = ctx.name('known');
      await (await ctx.connect()).queue(name);
      const admin = await ctx.connect();
      const missing = ctx.name('never-declared');
      await expectRejects(admin.moveItems(missing, name), QueueNotFoundError);
      await expectRejects(admin.moveItems(name, missing), QueueNotFoundError);
      await expectRejects(admin.purgeQueue(missing), QueueNotFoundError);
    });

    if (caps.deadLetter) {
      test('moveItems requeues a dead-letter queue: nacked items go back and are served again, attempts fresh', async (ctx) => {
        const name = ctx.name('requeue');
        const deadName = ctx.name('requeue-dead');
        const connection = await ctx.connect();
        const queue = await connection.queue<number>(name, { deadLetter: deadName });
        for (const item of [1, 2]) {
          await queue.put(item);
          const delivery = await queue.get({ timeoutMs: 5000 });
          await delivery.nack({ requeue: true });
          const again = await queue.get({ timeoutMs: 5000 });
          expect(again.attempt).toBe(2);
          await again.nack({ requeue: false });
        }
        const dead = await connection.queue<number>(deadName);
        await until(async () => (await dead.size()) === 2, SETTLE_MS, 'both items in the dead-letter queue');
        expect(await (await ctx.connect()).moveItems(deadName, name)).toBe(2);
        expect(await dead.size()).toBe(0);
        const first = await queue.get({ timeoutMs: 5000 });
        const second = await queue.get({ timeoutMs: 5000 });
        expect([first.body, second.body]).toEqual([1, 2]);
        expect([first.attempt, second.attempt]).toEqual([1, 1]);
        await Promise.all([first.ack(), second.ack()]);
      });
    }

    if (caps.delayed) {
      test('moveItems moves delayed items too, ready at once in the target', async (ctx) => {
        const from = ctx.name('move-delayed-from');
        const to = ctx.name('move-delayed-to');
        const connection = await ctx.connect();
        const source = await connection.queue<string>(from);
        const target = await connection.queue<string>(to);
        await source.put('later', { delayMs: LONG_DELAY_MS });
        await source.put('now');
        expect(await (await ctx.connect()).moveItems(from, to)).toBe(2);
        expect(await source.size()).toBe(0);
        expect(await drain(target, 2)).toEqual(['now', 'later']);
      });
    }

    if (caps.maxsize) {
      test('moveItems into a bounded queue moves only what fits; the rest stays', async (ctx) => {
        const from = ctx.name('move-bounded-from');
        const to = ctx.name('move-bounded-to');
        const connection = await ctx.connect();
        const source = await connection.queue<number>(from);
        const target = await connection.queue<number>(to, { maxsize: 3 });
        await target.put(0);
        await source.putMany([1, 2, 3, 4]);
        expect(await (await ctx.connect()).moveItems(from, to)).toBe(2);
        expect(await target.size()).toBe(3);
        expect(await (await ctx.connect()).moveItems(from, to)).toBe(0);
        expect(await drain(target, 3)).toEqual([0, 1, 2]);
        expect(await drain(source, 2)).toEqual([3, 4]);
      });
    }

    if (caps.priority) {
      test('moveItems between priority queues keeps each priority', async (ctx) => {
        const from = ctx.name('move-prio-from');
        const to = ctx.name('move-prio-to');
        const connection = await ctx.connect();
        const source = await connection.queue<string>(from, { order: 'priority' });
        const target = await connection.queue<string>(to, { order: 'priority' });
        await source.put('low', { priority: 1 });
        await source.put('high', { priority: 9 });
        await target.put('mid', { priority: 5 });
        expect(await (await ctx.connect()).moveItems(from, to)).toBe(2);
        expect(await drain(target, 3)).toEqual(['high', 'mid', 'low']);
      });
    }

    test('purgeQueue removes ready and delayed items without declaring the queue; in-flight ones stay', async (ctx) => {
      const name = ctx.name('purge');
      const queue = await (await ctx.connect()).queue<number>(name);
      await queue.putMany([1, 2, 3]);
      if (caps.delayed) await queue.put(4, { delayMs: LONG_DELAY_MS });
      const held = await queue.get({ timeoutMs: 5000 });
      expect(await (await ctx.connect()).purgeQueue(name)).toBe(caps.delayed ? 3 : 2);
      expect(await queue.size()).toBe(0);
      await expectRejects(queue.get({ timeoutMs: timing.toleranceMs }), QueueEmptyError);
      await held.nack({ requeue: true });
      const again = await queue.get({ timeoutMs: 5000 });
      expect(again.body).toBe(1);
      await again.ack();
      expect(await (await ctx.connect()).purgeQueue(name)).toBe(0);
    });
  });
}

import type { Delivery } from '@taskwire/core';
import { describe, expect, it } from 'vitest';
import { chunkEnds } from '../src/wire.js';
import { adminClient, useSchema } from './postgres.js';

// Waiting items are stored in chunks of up to 64 items (and about 64 KiB): the `0005-items-in-chunks` migration.
const db = useSchema('chunks');
const { schema } = db;

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** The item counts of queue `name`'s chunk rows, in serving order. */
async function chunkSizes(name: string): Promise<number[]> {
  const { rows } = await db.admin.query<{ n: number }>(
    `SELECT cardinality(c.ids) AS n FROM "${schema}".chunks AS c
     WHERE c.queue_id = (SELECT id FROM "${schema}".queues WHERE name = $1) ORDER BY c.priority DESC, c.seq`,
    [name],
  );
  return rows.map((row) => row.n);
}

/** Consume `count` bodies of `name` with `prefetch`, acking each; resolve with them in delivery order. */
async function consumeAll<T>(name: string, count: number, prefetch: number, options = {}): Promise<T[]> {
  const queue = await db.connection.queue<T>(name, options);
  const bodies: T[] = [];
  let handle: { cancel(): Promise<void> } | undefined;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${bodies.length} of ${count} arrived`)), 10_000);
    void queue
      .consume(
        async (delivery: Delivery<T>) => {
          bodies.push(delivery.body);
          await delivery.ack();
          if (bodies.length === count) {
            clearTimeout(timer);
            resolve();
          }
        },
        { prefetch },
      )
      .then((consumer) => {
        handle = consumer;
      }, reject);
  });
  await handle?.cancel();
  return bodies;
}

describe('postgres chunks', () => {
  it('cuts a put into chunks of at most 64 items, a new one before a payload would take one past 64 KiB', () => {
    const small = (n: number) => range(0, n).map(() => new Uint8Array(10));
    expect(chunkEnds(small(1))).toBe('{1}');
    expect(chunkEnds(small(64))).toBe('{64}');
    expect(chunkEnds(small(150))).toBe('{64,128,150}');
    const kib = (n: number) => new Uint8Array(n * 1024);
    expect(chunkEnds([kib(40), kib(20), kib(10), kib(100), kib(1)])).toBe('{2,3,4,5}');
  });

  it('stores a putMany as one row per chunk, and a take of part of a chunk leaves the rest in it', async () => {
    const queue = await db.connection.queue<number | Uint8Array>('rows');
    await queue.putMany(range(0, 150));
    expect(await chunkSizes('rows')).toEqual([64, 64, 22]);
    expect(await queue.size()).toBe(150);
    const first = await queue.get({ timeoutMs: 1000 });
    expect(first.body).toBe(0);
    expect(await chunkSizes('rows')).toEqual([63, 64, 22]);
    await first.ack();
    await queue.putMany([new Uint8Array(40 * 1024), new Uint8Array(40 * 1024)]);
    expect(await chunkSizes('rows')).toEqual([63, 64, 22, 1, 1]);
  });

  it('serves items in order across chunks, whatever the takes cut: FIFO, LIFO and priority', async () => {
    const fifo = await db.connection.queue<number>('order.fifo');
    await fifo.putMany(range(0, 150));
    await fifo.putMany(range(150, 300));
    expect(await consumeAll<number>('order.fifo', 300, 37)).toEqual(range(0, 300));

    const lifo = await db.connection.queue<number>('order.lifo', { order: 'lifo' });
    await lifo.putMany(range(0, 150));
    await lifo.put(150);
    expect(await consumeAll<number>('order.lifo', 151, 37, { order: 'lifo' })).toEqual(
      range(0, 151).reverse(),
    );

    const priority = await db.connection.queue<number>('order.priority', { order: 'priority' });
    await priority.putMany(range(0, 100), { priority: 1 });
    await priority.putMany(range(100, 200), { priority: 5 });
    expect(await consumeAll<number>('order.priority', 200, 37, { order: 'priority' })).toEqual([
      ...range(100, 200),
      ...range(0, 100),
    ]);
  });

  it('a taker that skipped a locked chunk looks again at once, without a wake-up', async () => {
    // Another taker holds the queue's only chunk (a take cutting it holds the same lock): this taker's take skips it
    // and finds nothing. Nobody NOTIFYs when the lock goes, so only the empty take's next_ms (which counts locked
    // ready chunks) brings it back before the 5 s poll.
    const queue = await db.connection.queue<number>('skipped');
    await queue.putMany(range(0, 10));
    const holder = await adminClient();
    try {
      await holder.query('BEGIN');
      await holder.query(
        `SELECT 1 FROM "${schema}".chunks WHERE queue_id = (SELECT id FROM "${schema}".queues WHERE name = 'skipped')
         FOR UPDATE`,
      );
      const getting = queue.get({ timeoutMs: 4000 });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const released = Date.now();
      await holder.query('COMMIT');
      const delivery = await getting;
      expect(delivery.body).toBe(0);
      expect(Date.now() - released).toBeLessThan(1000);
      await delivery.ack();
    } finally {
      await holder.end();
    }
  });

  it('a bounded queue stores what fits of a put, cutting its last chunk at the room left', async () => {
    const queue = await db.connection.queue<number>('bounded', { maxsize: 70 });
    const putting = queue.putMany(range(0, 100));
    await expect.poll(() => chunkSizes('bounded')).toEqual([64, 6]);
    expect(await consumeAll<number>('bounded', 100, 25, { maxsize: 70 })).toEqual(range(0, 100));
    await putting;
  });

  it('a take past reply_bytes answers a row per item, in serving order, attempts as counted before the take', async () => {
    const queue = await db.connection.queue<string>('rows.per.item');
    await queue.putMany(['x', 'yy', 'zzz']);
    const { rows } = await db.admin.query<{
      ids: string[];
      attempts: number[];
      lengths: number[];
      payloads: Buffer;
    }>(
      `SELECT ids, attempts, lengths, payloads FROM "${schema}".take(
         (SELECT id FROM "${schema}".queues WHERE name = 'rows.per.item'), 'unheard', 'me', 2, 60000, false, false,
         true, 1)`,
    );
    expect(rows.map((row) => [row.ids.length, row.attempts, row.lengths, row.payloads.length])).toEqual([
      [1, [0], [2], 2],
      [1, [0], [3], 3],
    ]);
    expect(await chunkSizes('rows.per.item')).toEqual([1]);
  });

  it('acks of one turn from two takes, interleaved and partial, settle exactly those items', async () => {
    const queue = await db.connection.queue<number>('acks');
    const held: Delivery<number>[] = [];
    await queue.putMany([1, 2, 3]);
    const consumer = await queue.consume(
      (delivery) => {
        held.push(delivery);
      },
      { prefetch: 6 },
    );
    await expect.poll(() => held.length).toBe(3);
    await queue.putMany([4, 5, 6]);
    await expect.poll(() => held.length).toBe(6);
    await consumer.cancel();
    const leases = async () =>
      (
        await db.admin.query(
          `SELECT count(*)::int AS n FROM "${schema}".leases
           WHERE queue_id = (SELECT id FROM "${schema}".queues WHERE name = 'acks')`,
        )
      ).rows[0].n as number;
    expect(await leases()).toBeGreaterThanOrEqual(2);
    const ack = (...bodies: number[]) =>
      Promise.all(bodies.map((body) => held.find((delivery) => delivery.body === body)!.ack()));
    await ack(1, 4, 2);
    expect(await db.connection.stats('acks')).toMatchObject({ inFlight: 3 });
    await ack(3, 5);
    expect(await db.connection.stats('acks')).toMatchObject({ inFlight: 1 });
    expect(await leases()).toBe(1);
    await ack(6);
    expect(await db.connection.stats('acks')).toMatchObject({ ready: 0, inFlight: 0 });
    expect(await leases()).toBe(0);
  });

  it('moveItems takes items from the middle of a chunk and leaves the others in order', async () => {
    const queue = await db.connection.queue<string>('move.from');
    await db.connection.queue('move.to');
    await queue.putMany(['a', 'b', 'c', 'd', 'e']);
    const peeked = await db.connection.peek<string>('move.from', { limit: 5 });
    const ids = [peeked[1]!.id, peeked[3]!.id];
    expect(await db.connection.moveItems('move.from', 'move.to', { ids })).toBe(2);
    expect((await db.connection.peek<string>('move.from')).map((item) => item.body)).toEqual(['a', 'c', 'e']);
    const moved = await db.connection.peek<string>('move.to');
    expect(moved.map((item) => [item.body, item.id])).toEqual([
      ['b', ids[0]],
      ['d', ids[1]],
    ]);
  });
});

import { FrameTooLargeError, QueueNotFoundError } from '@taskwire/core';
import { describe, expect, it } from 'vitest';
import { createPostgresTransport } from '../src/index.js';
import { POSTGRES_URL, useSchema } from './postgres.js';

const transport = createPostgresTransport();
const db = useSchema('inspect');
const { schema } = db;

const until = async (check: () => Promise<boolean>, ms: number) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe('postgres inspection', () => {
  it('declares every inspection capability', () => {
    expect(transport.capabilities).toMatchObject({ stats: true, peek: true, listQueues: true });
  });

  it('listQueues lists the declared queues, sorted, dead-letter queues created by a dead-lettering included', async () => {
    const b = await db.connection.queue<number>('list.b');
    await db.connection.queue('list.a', { deadLetter: 'list.a.dlq' });
    await db.admin.query(
      `INSERT INTO "${schema}".chunks (queue_id, seq, payloads) SELECT id, 0, ARRAY['\\xc1'::bytea] FROM "${schema}".queues WHERE name = 'list.b'`,
    );
    await expect(b.get({ timeoutMs: 1000 })).rejects.toThrow(); // undecodable: moved to list.b.dead
    const names = await db.connection.listQueues();
    expect(names.filter((name) => name.startsWith('list.'))).toEqual(['list.a', 'list.b', 'list.b.dead']);
  });

  it('stats counts ready, delayed, in flight, consumers and the dead-letter queue by SQL', async () => {
    const queue = await db.connection.queue<string>('stats', { deadLetter: 'stats.dlq' });
    await queue.putMany(['a', 'b', 'c']);
    await queue.put('later', { delayMs: 60_000 });
    const held = await queue.get({ timeoutMs: 1000 });
    const dead = await queue.get({ timeoutMs: 1000 });
    await dead.nack({ requeue: false });
    const other = await transport.connect({ url: POSTGRES_URL, schema });
    try {
      const handle = await (await other.queue<string>('stats')).consume(() => new Promise(() => undefined), {
        prefetch: 1,
      });
      await until(async () => (await db.connection.stats('stats')).inFlight === 2, 5000);
      expect(await db.connection.stats('stats')).toEqual({
        name: 'stats',
        ready: 0,
        delayed: 1,
        inFlight: 2,
        consumers: 1,
        deadLetter: { name: 'stats.dlq', size: 1 },
      });
      await handle.cancel();
      await until(async () => (await db.connection.stats('stats')).consumers === 0, 5000);
    } finally {
      await other.close();
    }
    await held.ack();
    expect((await db.connection.stats('stats')).ready).toBe(1); // the consumer's item, given back on close
    await expect(db.connection.stats('stats.missing')).rejects.toSatisfy(QueueNotFoundError.isInstance);
  });

  it('peek shows ready items in serving order, then delayed ones soonest first, without taking them', async () => {
    const queue = await db.connection.queue<string>('peek', { order: 'priority' });
    await queue.put('late', { delayMs: 120_000 });
    await queue.put('soon', { delayMs: 60_000, priority: 3 });
    await queue.putMany(['low-1', 'low-2']);
    await queue.put('high', { priority: 9 });
    await db.admin.query(
      `INSERT INTO "${schema}".chunks (queue_id, payloads) SELECT id, ARRAY['\\xc1'::bytea] FROM "${schema}".queues WHERE name = 'peek'`,
    );
    const items = await db.connection.peek<string>('peek', { limit: 10 });
    expect(items.map((item) => item.body)).toEqual([
      'high',
      'low-1',
      'low-2',
      new Uint8Array([0xc1]),
      'soon',
      'late',
    ]);
    expect(items.map((item) => item.state)).toEqual([
      'ready',
      'ready',
      'ready',
      'ready',
      'delayed',
      'delayed',
    ]);
    expect(items.map((item) => item.priority)).toEqual([9, 0, 0, 0, 3, 0]);
    expect(items[4]!.readyAt).toBeGreaterThan(Date.now() + 50_000);
    expect(items[0]!.readyAt).toBeUndefined();
    expect((await db.connection.peek('peek', { limit: 2 })).map((item) => item.body)).toEqual([
      'high',
      'low-1',
    ]);
    const taken = await queue.get({ timeoutMs: 1000 });
    expect(taken.id).toBe(items[0]!.id);
    await taken.nack();
    expect((await db.connection.peek('peek', { limit: 1 }))[0]).toMatchObject({ body: 'high', attempts: 1 });
    await expect(db.connection.peek('peek', { limit: 0 })).rejects.toThrow(RangeError);
    await expect(db.connection.peek('peek.missing')).rejects.toSatisfy(QueueNotFoundError.isInstance);
  });

  it('moveItems requeues a dead-letter queue as fresh items: in order, by limit or ids, into the room there is', async () => {
    await db.connection.queue<number>('move', { maxsize: 3 });
    const dlq = await db.connection.queue<number>('move.dlq');
    await dlq.putMany([1, 2, 3, 4, 5]);
    const first = await dlq.get({ timeoutMs: 1000 });
    await first.nack(); // attempt counted: the move starts it again
    expect(await db.connection.moveItems('move.dlq', 'move', { limit: 1 })).toBe(1);
    const ids = (await db.connection.peek<number>('move.dlq'))
      .filter((item) => item.body === 4)
      .map((item) => item.id);
    expect(await db.connection.moveItems('move.dlq', 'move', { ids })).toBe(1);
    expect(await db.connection.moveItems('move.dlq', 'move')).toBe(1); // room for one more
    const moved = await db.connection.peek<number>('move');
    expect(moved.map((item) => [item.body, item.attempts])).toEqual([
      [2, 0],
      [4, 0],
      [3, 0],
    ]);
    expect(await dlq.size()).toBe(2);
    await expect(db.connection.moveItems('move.dlq', 'move.missing')).rejects.toSatisfy(
      QueueNotFoundError.isInstance,
    );
  });

  it('purgeQueue removes ready and delayed items of a queue it did not declare, leaving those in flight', async () => {
    const queue = await db.connection.queue<number>('purge');
    await queue.putMany([1, 2, 3]);
    await queue.put(4, { delayMs: 60_000 });
    const held = await queue.get({ timeoutMs: 1000 });
    const other = await transport.connect({ url: POSTGRES_URL, schema });
    try {
      expect(await other.purgeQueue('purge')).toBe(3);
      await expect(other.purgeQueue('purge.missing')).rejects.toSatisfy(QueueNotFoundError.isInstance);
    } finally {
      await other.close();
    }
    expect((await db.connection.stats('purge')).inFlight).toBe(1);
    await held.ack();
  });

  it('a broadcast over NOTIFY’s 8000-byte limit is refused with FrameTooLargeError; one under it arrives', async () => {
    const heard: Uint8Array[] = [];
    const subscription = await db.connection.subscribe<Uint8Array>('big', (message) => heard.push(message));
    await expect(db.connection.publish('big', new Uint8Array(6000))).rejects.toSatisfy(
      FrameTooLargeError.isInstance,
    );
    await db.connection.publish('big', new Uint8Array(5900));
    await until(async () => heard.length === 1, 5000);
    expect(heard[0]!.length).toBe(5900);
    await subscription.unsubscribe();
  });
});

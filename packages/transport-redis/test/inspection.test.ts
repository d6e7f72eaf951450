import { type Connection, QueueNotFoundError } from '@taskwire/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisTransport } from '../src/index.js';
import { shortLeaseRun } from './redis.js';

const run = shortLeaseRun('inspection', 3000);
let connection: Connection;
let other: Connection;
const otherPrefix = `${run.prefix}-other`;

beforeAll(async () => {
  connection = await run.connect('inspection');
  other = await createRedisTransport().connect({ prefix: otherPrefix });
});
afterAll(async () => {
  const queue = await other.queue('foreign');
  await queue.delete();
  await other.close();
});

describe('Redis inspection', () => {
  it('has the inspection capabilities', () => {
    expect(connection.transport.capabilities).toMatchObject({ stats: true, peek: true, listQueues: true });
  });

  it('listQueues: the declared queues of the prefix, sorted, a dead-letter queue made by a put among them', async () => {
    await (await other.queue('foreign')).put('x');
    const jobs = await connection.queue('list-b', { deadLetter: 'list-b-dlq' });
    await connection.queue('list-a');
    await jobs.put('poison');
    await (await jobs.get({ timeoutMs: 2000 })).nack({ requeue: false });
    const names = await connection.listQueues();
    expect(names.filter((name) => name.startsWith('list-'))).toEqual(['list-a', 'list-b', 'list-b-dlq']);
    expect(names).not.toContain('foreign');
    expect(names.every((name) => !name.includes('}'))).toBe(true);
  });

  it('stats: ready, delayed, in flight and the dead-letter queue; consumers unknown', async () => {
    const queue = await connection.queue<string>('stats');
    expect(await connection.stats('stats')).toEqual({
      name: 'stats',
      ready: 0,
      delayed: 0,
      inFlight: 0,
      consumers: undefined,
      deadLetter: { name: 'stats.dead', size: 0 },
    });
    await queue.putMany(['a', 'b', 'c']);
    await queue.put('later', { delayMs: 60_000 });
    await queue.put('soon', { delayMs: 1 });
    const held = await queue.get({ timeoutMs: 2000 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const stats = await connection.stats('stats');
    // "soon" is due: the next take serves it, so it counts as ready.
    expect(stats).toMatchObject({ ready: 3, delayed: 1, inFlight: 1 });
    await held.ack();
    expect(await connection.stats('stats')).toMatchObject({ ready: 3, inFlight: 0 });
  });

  it('stats: the declared dead-letter queue and its size', async () => {
    const queue = await connection.queue<string>('stats-dl', { deadLetter: 'stats-dl-dead' });
    await queue.putMany(['a', 'b']);
    for (let i = 0; i < 2; i++) await (await queue.get({ timeoutMs: 2000 })).nack({ requeue: false });
    expect((await connection.stats('stats-dl')).deadLetter).toEqual({ name: 'stats-dl-dead', size: 2 });
  });

  it('stats, peek and purgeQueue reject an undeclared queue with QueueNotFoundError and do not declare it', async () => {
    await expect(connection.stats('never-declared')).rejects.toBeInstanceOf(QueueNotFoundError);
    await expect(connection.peek('never-declared')).rejects.toBeInstanceOf(QueueNotFoundError);
    await expect(connection.purgeQueue('never-declared')).rejects.toBeInstanceOf(QueueNotFoundError);
    await expect(run.keysOf('never-declared')).resolves.toEqual([]);
  });

  it('peek (fifo): ready items in serving order, then delayed soonest first, without taking them', async () => {
    const queue = await connection.queue<string>('peek-fifo');
    await queue.put('late', { delayMs: 120_000 });
    await queue.put('sooner', { delayMs: 60_000 });
    await queue.putMany(['a', 'b']);
    const retried = await queue.get({ timeoutMs: 2000 });
    await retried.nack(); // "a" goes to the back with one attempt
    const before = Date.now();
    const items = await connection.peek<string>('peek-fifo');
    expect(items.map((item) => [item.body, item.state, item.attempts])).toEqual([
      ['b', 'ready', 0],
      ['a', 'ready', 1],
      ['sooner', 'delayed', 0],
      ['late', 'delayed', 0],
    ]);
    expect(items[0]!.id).toBeTypeOf('string');
    expect(items[2]!.readyAt).toBeGreaterThan(before + 50_000);
    expect(items[0]).not.toHaveProperty('readyAt');
    expect(await connection.peek('peek-fifo', { limit: 1 })).toHaveLength(1);
    expect(await queue.size()).toBe(4);
    const next = await queue.get({ timeoutMs: 2000 });
    expect([next.body, next.id]).toEqual(['b', items[0]!.id]);
    await next.ack();
  });

  it('peek (lifo, priority): serving order, due delayed items where the next take puts them', async () => {
    const lifo = await connection.queue<string>('peek-lifo', { order: 'lifo' });
    await lifo.putMany(['a', 'b']);
    await lifo.put('due', { delayMs: 1 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await connection.peek<string>('peek-lifo')).map((item) => item.body)).toEqual(['due', 'b', 'a']);
    const served = await lifo.get({ timeoutMs: 2000 });
    expect(served.body).toBe('due');
    await served.ack();

    const ranked = await connection.queue<string>('peek-priority', { order: 'priority' });
    await ranked.put('low', { priority: 1 });
    await ranked.put('high', { priority: 9 });
    await ranked.put('mid-due', { priority: 5, delayMs: 1 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const items = await connection.peek<string>('peek-priority');
    expect(items.map((item) => [item.body, item.priority])).toEqual([
      ['high', 9],
      ['mid-due', 5],
      ['low', 1],
    ]);
  });

  it('peek shows an undecodable item as its bytes, and checks the limit', async () => {
    await connection.queue('peek-raw');
    const { admin } = run;
    await admin().rpush(`{${run.prefix}:peek-raw}:ready`, Buffer.from([...Buffer.from('raw1|0||'), 0xc1]));
    const [item] = await connection.peek('peek-raw');
    expect(item!.body).toBeInstanceOf(Uint8Array);
    await expect(connection.peek('peek-raw', { limit: 0 })).rejects.toBeInstanceOf(RangeError);
  });

  it('moveItems requeues a dead-letter queue: fresh attempts, limit and ids, bounded target', async () => {
    const jobs = await connection.queue<string>('move', { deadLetter: 'move.dlq' });
    await jobs.putMany(['a', 'b', 'c', 'd', 'e']);
    for (let i = 0; i < 5; i++) {
      const delivery = await jobs.get({ timeoutMs: 2000 });
      await delivery.nack({ requeue: false });
    }
    const dead = await connection.peek<string>('move.dlq');
    expect(dead.map((item) => item.body)).toEqual(['a', 'b', 'c', 'd', 'e']);

    expect(await connection.moveItems('move.dlq', 'move', { limit: 1 })).toBe(1);
    expect(await connection.moveItems('move.dlq', 'move', { ids: [dead[3]!.id, 'no-such-id'] })).toBe(1);
    const moved = await connection.peek<string>('move');
    expect(moved.map((item) => [item.body, item.attempts, item.id])).toEqual([
      ['a', 0, dead[0]!.id],
      ['d', 0, dead[3]!.id],
    ]);
    expect((await connection.peek<string>('move.dlq')).map((item) => item.body)).toEqual(['b', 'c', 'e']);

    const bounded = await connection.queue('move-bounded', { maxsize: 2 });
    await bounded.put('already');
    expect(await connection.moveItems('move.dlq', 'move-bounded')).toBe(1);
    expect(await connection.moveItems('move.dlq', 'move')).toBe(2);
    expect(await connection.stats('move.dlq')).toMatchObject({ ready: 0, delayed: 0 });
    expect((await connection.peek<string>('move')).map((item) => item.body)).toEqual(['a', 'd', 'c', 'e']);
    await expect(connection.moveItems('move', 'never-declared')).rejects.toBeInstanceOf(QueueNotFoundError);
    await expect(connection.moveItems('never-declared', 'move')).rejects.toBeInstanceOf(QueueNotFoundError);
  });

  it('moveItems moves delayed items as ready ones and keeps a priority', async () => {
    const from = await connection.queue<string>('move-from', { order: 'priority' });
    const to = await connection.queue<string>('move-to', { order: 'priority' });
    await from.put('later', { priority: 7, delayMs: 60_000 });
    await from.put('now', { priority: 3 });
    await to.put('waiting', { priority: 5 });
    expect(await connection.moveItems('move-from', 'move-to')).toBe(2);
    const items = await connection.peek<string>('move-to');
    expect(items.map((item) => [item.body, item.priority, item.state])).toEqual([
      ['later', 7, 'ready'],
      ['waiting', 5, 'ready'],
      ['now', 3, 'ready'],
    ]);
  });

  it('purgeQueue removes ready and delayed items, not those in flight', async () => {
    const queue = await connection.queue<string>('purge');
    await queue.putMany(['a', 'b', 'c']);
    await queue.put('later', { delayMs: 60_000 });
    const held = await queue.get({ timeoutMs: 2000 });
    expect(await connection.purgeQueue('purge')).toBe(3);
    expect(await connection.stats('purge')).toMatchObject({ ready: 0, delayed: 0, inFlight: 1 });
    await held.ack();
  });
});

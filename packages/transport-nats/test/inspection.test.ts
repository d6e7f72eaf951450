import { type Connection, QueueNotFoundError } from '@taskwire/core';
import type { NatsConnection as NatsClient } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNatsTransport } from '../src/index.js';
import { adminClient, deleteStreams, NATS_URL, uniquePrefix } from './nats.js';

const transport = createNatsTransport();
const prefix = uniquePrefix('inspect');
let admin: NatsClient;
let connection: Connection;

beforeAll(async () => {
  admin = await adminClient();
  connection = await transport.connect({ url: NATS_URL, prefix });
});
afterAll(async () => {
  await connection?.close();
  await deleteStreams(admin, prefix);
  await admin.close();
});

describe('nats inspection', () => {
  it('capabilities say stats, peek and listQueues', () => {
    expect(transport.capabilities).toMatchObject({ stats: true, peek: true, listQueues: true });
  });

  it('listQueues names the queues under the prefix, dotted names decoded, sorted', async () => {
    await connection.queue('b.results.x_1');
    await connection.queue('a');
    expect(await connection.listQueues()).toEqual(['a', 'b.results.x_1']);
  });

  it('stats counts ready, delayed and in-flight items and the dead-letter queue', async () => {
    const queue = await connection.queue<string>('stats', { deadLetter: 'stats.dl' });
    await queue.putMany(['held', 'r1', 'r2']);
    await queue.put('later', { delayMs: 60_000 });
    const held = await queue.get({ timeoutMs: 5000 });
    const dead = await queue.get({ timeoutMs: 5000 });
    await dead.nack({ requeue: false });
    const stats = await connection.stats('stats');
    expect(stats).toEqual({
      name: 'stats',
      ready: 1,
      delayed: 1,
      inFlight: 1,
      consumers: undefined,
      deadLetter: { name: 'stats.dl', size: 1 },
    });
    await held.ack();
    await expect(connection.stats('no-such-queue')).rejects.toSatisfy(QueueNotFoundError.isInstance);
  });

  it('peek shows ready items in order, then delayed ones soonest first, without taking them', async () => {
    const queue = await connection.queue<string>('peek');
    await queue.put('late', { delayMs: 120_000 });
    await queue.put('soon', { delayMs: 60_000 });
    await queue.putMany(['one', 'two', 'three']);
    const taken = await queue.get({ timeoutMs: 5000 }); // 'one' is in flight: not shown
    const peeked = await connection.peek<string>('peek', { limit: 4 });
    expect(peeked.map((item) => [item.body, item.state])).toEqual([
      ['two', 'ready'],
      ['three', 'ready'],
      ['soon', 'delayed'],
      ['late', 'delayed'],
    ]);
    expect(peeked[2]!.readyAt).toBeGreaterThan(Date.now());
    expect(await queue.size()).toBe(4);
    await taken.nack({ requeue: true });
    const again = await connection.peek<string>('peek', { limit: 3 });
    expect(again.map((item) => [item.body, item.attempts])).toEqual([
      ['two', 0],
      ['three', 0],
      ['one', 1],
    ]);
    expect(again[2]!.id).toBe(taken.id);
  });

  it('moveItems moves waiting items (by id or up to a limit) to the back of another queue as fresh items', async () => {
    const from = await connection.queue<string>('move.dead');
    const to = await connection.queue<string>('move.target');
    await to.put('already');
    await from.putMany(['a', 'b', 'c']);
    await from.put('d', { delayMs: 60_000 });
    const [, second] = await connection.peek<string>('move.dead', { limit: 2 });
    expect(await connection.moveItems('move.dead', 'move.target', { ids: [second!.id] })).toBe(1);
    expect(await connection.moveItems('move.dead', 'move.target', { limit: 1 })).toBe(1);
    expect(await connection.moveItems('move.dead', 'move.target')).toBe(2);
    expect(await from.size()).toBe(0);
    const bodies: [string, number][] = [];
    for (let i = 0; i < 5; i++) {
      const delivery = await to.get({ timeoutMs: 5000 });
      bodies.push([delivery.body, delivery.attempt]);
      await delivery.ack();
    }
    expect(bodies).toEqual([
      ['already', 1],
      ['b', 1],
      ['a', 1],
      ['c', 1],
      ['d', 1],
    ]);
    await expect(connection.moveItems('move.dead', 'missing')).rejects.toSatisfy(
      QueueNotFoundError.isInstance,
    );
  });

  it('purgeQueue removes ready and delayed items, and leaves held ones', async () => {
    const queue = await connection.queue<string>('purge');
    await queue.putMany(['held', 'x', 'y']);
    await queue.put('later', { delayMs: 60_000 });
    const held = await queue.get({ timeoutMs: 5000 });
    expect(await connection.purgeQueue('purge')).toBe(3);
    expect(await queue.size()).toBe(0);
    await held.nack({ requeue: true });
    const back = await queue.get({ timeoutMs: 5000 });
    expect([back.body, back.attempt]).toEqual(['held', 2]);
    await back.ack();
    await expect(connection.purgeQueue('missing')).rejects.toSatisfy(QueueNotFoundError.isInstance);
  });
});

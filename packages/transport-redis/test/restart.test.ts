import type { Connection, Delivery } from '@taskwire/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisTransport } from '../src/index.js';
import { type PrivateRedis, startPrivateRedis } from './redis.js';

// A private redis-server on its own loopback port, so restarting it disturbs nobody else.
let server: PrivateRedis | undefined;
const open: Connection[] = [];

afterAll(async () => {
  await Promise.allSettled(open.map((connection) => connection.close()));
  await server?.stop();
});

describe('a Redis restart', () => {
  it('producers and consumers resume by themselves once Redis is back', async () => {
    server = await startPrivateRedis({ persistent: false });
    const { url } = server;
    const transport = createRedisTransport();
    const producerConnection = await transport.connect({ url, maxBlockMs: 500 });
    const consumerConnection = await transport.connect({ url, maxBlockMs: 500 });
    open.push(producerConnection, consumerConnection);
    let reconnects = 0;
    producerConnection.on('reconnect', () => reconnects++);
    const producer = await producerConnection.queue<number>('jobs');
    const consumer = await consumerConnection.queue<number>('jobs');
    const seen = new Set<number>();
    await consumer.consume(async (delivery: Delivery<number>) => {
      seen.add(delivery.body);
      await delivery.ack();
    });

    await producer.putMany([1, 2, 3]);
    for (let i = 0; i < 250 && seen.size < 3; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect([...seen].sort()).toEqual([1, 2, 3]);
    expect(reconnects).toBe(0);

    // Redis dies (this server keeps nothing on disk) and comes back on the same port.
    await server.restart();

    // The queue's declaration went with the data; the producer declares it again on a new handle.
    const producerAgain = await producerConnection.queue<number>('jobs');
    await producerAgain.putMany([4, 5, 6]);
    for (let i = 0; i < 500 && seen.size < 6; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect([...seen].sort()).toEqual([1, 2, 3, 4, 5, 6]);
    // The connection said it came back (what taskwire_reconnects_total counts).
    expect(reconnects).toBe(1);
    // The old producer handle works too.
    await producer.put(7);
    for (let i = 0; i < 500 && seen.size < 7; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(seen.has(7)).toBe(true);
  }, 30_000);
});

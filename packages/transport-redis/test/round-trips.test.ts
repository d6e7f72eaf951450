import type { Connection } from '@taskwire/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisTransport } from '../src/index.js';
import { type PrivateRedis, startPrivateRedis, uniquePrefix } from './redis.js';

// Commands sent by clients (not those a script runs), as MONITOR on a private redis-server sees them.

const prefix = uniquePrefix('round-trips');
const ITEMS = 20;
let server: PrivateRedis;
const open: Connection[] = [];

beforeAll(async () => {
  server = await startPrivateRedis({ persistent: false });
});
afterAll(async () => {
  await Promise.allSettled(open.map((connection) => connection.close()));
  await server.stop();
});

async function connect(): Promise<Connection> {
  const connection = await createRedisTransport().connect({ url: server.url, prefix, maxBlockMs: 20_000 });
  open.push(connection);
  return connection;
}

describe('redis round trips with one item in flight', () => {
  it('a waiting consumer costs one put, one wake-up, one take and one ack per item', async () => {
    const producer = await (await connect()).queue<number>('one-in-flight');
    const consumer = await (await connect()).queue<number>('one-in-flight');
    let handled: (n: number) => void = () => undefined;
    await consumer.consume(async (delivery) => {
      await delivery.ack();
      handled(delivery.body);
    });
    // Settle into the wait first (the first take finds the queue empty).
    await new Promise((resolve) => setTimeout(resolve, 300));

    const monitor = await new Redis(server.url).monitor();
    const commands: string[] = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source !== 'lua') commands.push(args[0]!.toLowerCase());
    });
    try {
      for (let n = 0; n < ITEMS; n++) {
        const done = new Promise<number>((resolve) => {
          handled = resolve;
        });
        await producer.put(n);
        expect(await done).toBe(n);
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      monitor.disconnect();
    }
    // put, BLPOP wake-up, take (sent behind the BLPOP), ack; a little slack for a heartbeat.
    expect(commands.length).toBeLessThanOrEqual(ITEMS * 4 + 4);
    expect(commands.filter((name) => name === 'blpop').length).toBeLessThanOrEqual(ITEMS + 2);
  });
});

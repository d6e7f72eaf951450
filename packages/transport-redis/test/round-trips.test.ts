import { createHash } from 'node:crypto';
import type { Connection } from '@taskwire/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisTransport } from '../src/index.js';
import { scripts } from '../src/scripts.js';
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
    const takeSha = createHash('sha1').update(scripts.take.source).digest('hex');
    /** The clients that sent a BLPOP, and those that sent a take. */
    const blocked = new Set<string>();
    const tookOn = new Set<string>();
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source === 'lua') return;
      const name = args[0]!.toLowerCase();
      commands.push(name);
      if (name === 'blpop') blocked.add(source);
      if (name === 'evalsha' && args[1] === takeSha) tookOn.add(source);
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
    // Each take went out right behind a BLPOP on the blocking connection, not as a round trip of its own after it.
    expect(tookOn.size).toBeGreaterThan(0);
    expect([...tookOn].filter((source) => !blocked.has(source))).toEqual([]);
  });
});

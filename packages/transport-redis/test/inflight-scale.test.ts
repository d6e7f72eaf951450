import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Connection, Delivery } from '@taskwire/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisTransport } from '../src/index.js';
import { type PrivateRedis, startPrivateRedis, uniquePrefix } from './redis.js';

// What the release and reclaim scripts read, counted by a private redis-server's INFO commandstats
// (commands a Lua script runs are counted there too), so no other session's traffic is counted.

const transport = createRedisTransport();
const prefix = uniquePrefix('inflight');
const PAYLOAD_BYTES = 64 * 1024;
const OTHERS_HELD = 40;
let server: PrivateRedis;
let admin: Redis;
const open: Connection[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  server = await startPrivateRedis({ persistent: false });
  admin = new Redis(server.url);
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await Promise.allSettled(open.map((connection) => connection.close()));
  admin.disconnect();
  await server.stop();
});

async function connect(leaseTtlMs = 30_000): Promise<Connection> {
  const connection = await transport.connect({ url: server.url, prefix, leaseTtlMs, maxBlockMs: 200 });
  open.push(connection);
  return connection;
}

/** Calls per command since the last CONFIG RESETSTAT, e.g. `{ hget: 2 }`. */
async function commandCalls(): Promise<Record<string, number>> {
  const info = await admin.info('commandstats');
  const calls: Record<string, number> = {};
  for (const match of info.matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)) calls[match[1]!] = Number(match[2]);
  return calls;
}

/**
 * In-flight entries read: one per HGET, every entry per HGETALL/HVALS/HKEYS/HSCAN (the in-flight
 * hash holds `fields`). HMGET is left out: every script reads the queue's options with it.
 */
function fieldsRead(calls: Record<string, number>, fields: number): number {
  const whole = (calls.hgetall ?? 0) + (calls.hvals ?? 0) + (calls.hkeys ?? 0) + (calls.hscan ?? 0);
  return (calls.hget ?? 0) + whole * fields;
}

/** Poll `condition` every 20 ms for at most `ms`. */
async function until(condition: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A consumer on `name` that holds up to `prefetch` deliveries without settling them. */
async function holder(name: string, prefetch: number, leaseTtlMs?: number): Promise<Delivery<Buffer>[]> {
  const queue = await (await connect(leaseTtlMs)).queue<Buffer>(name);
  const held: Delivery<Buffer>[] = [];
  await queue.consume(
    (delivery) => {
      held.push(delivery);
    },
    { prefetch },
  );
  await until(async () => held.length === prefetch, 10_000, `${prefetch} deliveries held`);
  return held;
}

describe('redis in-flight scripts touch only the items they work on', () => {
  it("closing one consumer's handle reads none of another consumer's large in-flight payloads", async () => {
    const name = 'release-scale';
    const producer = await (await connect()).queue<Buffer>(name);
    await producer.putMany(Array.from({ length: OTHERS_HELD }, () => Buffer.alloc(PAYLOAD_BYTES, 1)));
    await holder(name, OTHERS_HELD);
    await producer.putMany([Buffer.alloc(PAYLOAD_BYTES, 2), Buffer.alloc(PAYLOAD_BYTES, 2)]);
    const mine = await connect();
    const queue = await mine.queue<Buffer>(name);
    const held = [await queue.get({ timeoutMs: 5000 }), await queue.get({ timeoutMs: 5000 })];
    expect(held.map((delivery) => delivery.body[0])).toEqual([2, 2]);

    await admin.config('RESETSTAT');
    await mine.close();
    const calls = await commandCalls();
    // Both of its items came back; at most its own two in-flight entries were read.
    expect(await producer.size()).toBe(2);
    expect(fieldsRead(calls, OTHERS_HELD + 2)).toBeLessThanOrEqual(2);
  });

  it("reclaiming a dead consumer's lease reads none of a live consumer's large in-flight payloads", async () => {
    const name = 'reclaim-scale';
    const leaseTtlMs = 1500;
    const producer = await (await connect(leaseTtlMs)).queue<Buffer>(name);
    await producer.putMany(Array.from({ length: OTHERS_HELD }, () => Buffer.alloc(PAYLOAD_BYTES, 1)));
    // Its heartbeats (every third of the lease) are what reap the dead lease.
    await holder(name, OTHERS_HELD, leaseTtlMs);
    await producer.putMany([Buffer.alloc(PAYLOAD_BYTES, 2), Buffer.alloc(PAYLOAD_BYTES, 2)]);
    const fixture = fileURLToPath(new URL('./fixtures/hold.mjs', import.meta.url));
    const child = fork(fixture, [server.url, prefix, name, '2', '0', String(leaseTtlMs)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.push(child);
    await once(child, 'message');
    await admin.config('RESETSTAT');
    child.kill('SIGKILL');
    await once(child, 'exit');

    // The live consumer's heartbeat reaps the dead lease and puts its two items back.
    await until(async () => (await producer.size()) === 2, leaseTtlMs + 10_000, 'the dead lease reaped');
    const calls = await commandCalls();
    expect(fieldsRead(calls, OTHERS_HELD + 2)).toBeLessThanOrEqual(2);
  });
});

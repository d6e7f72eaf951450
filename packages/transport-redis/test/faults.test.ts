import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { ConfigError, type Connection, ConnectionClosedError, type Delivery } from '@taskwire/core';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisTransport, queueKeys } from '../src/index.js';
import { encodeItem } from '../src/item.js';
import { adminClient, deleteKeys, REDIS_URL, uniquePrefix } from './redis.js';

const transport = createRedisTransport();
const prefix = uniquePrefix('faults');
let admin: Redis;
const open: Connection[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  admin = await adminClient();
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await Promise.allSettled(open.map((connection) => connection.close()));
  await deleteKeys(admin, prefix);
  admin.disconnect();
});

async function connect(options: Record<string, unknown> = {}) {
  const connection = await transport.connect({ url: REDIS_URL, prefix, ...options });
  open.push(connection);
  return connection;
}

/** Poll `condition` every 20 ms for at most `ms`. */
async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('redis transport under faults', () => {
  for (const [label, visibilityTimeoutMs, leaseTtlMs] of [
    ['visibility timeout', 1000, 60_000],
    ['lease expiry (no visibility timeout)', 0, 1500],
  ] as const) {
    it(`a SIGKILLed consumer's deliveries come back after the ${label}`, async () => {
      const name = `sigkill-${visibilityTimeoutMs}`;
      const producer = await (await connect()).queue<number>(name, { visibilityTimeoutMs });
      await producer.putMany([1, 2, 3, 4]);
      const fixture = fileURLToPath(new URL('./fixtures/hold.mjs', import.meta.url));
      const child = fork(
        fixture,
        [REDIS_URL, prefix, name, '3', String(visibilityTimeoutMs), String(leaseTtlMs)],
        {
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        },
      );
      children.push(child);
      const [message] = (await once(child, 'message')) as [{ held: number[] }];
      expect(message.held).toEqual([1, 2, 3]);
      child.kill('SIGKILL');
      await once(child, 'exit');
      const killedAt = Date.now();

      const bodies: number[] = [];
      const attempts: number[] = [];
      for (let i = 0; i < 4; i++) {
        const delivery = await producer.get({ timeoutMs: Math.max(visibilityTimeoutMs, leaseTtlMs) + 5000 });
        bodies.push(delivery.body);
        attempts.push(delivery.attempt);
        await delivery.ack();
      }
      expect(bodies.sort()).toEqual([1, 2, 3, 4]);
      expect(attempts.sort()).toEqual([1, 2, 2, 2]);
      expect(Date.now() - killedAt).toBeLessThan(Math.max(visibilityTimeoutMs, leaseTtlMs) + 3000);
      expect(await producer.size()).toBe(0);
    });
  }

  it('CLIENT KILL of a consumer mid-stream: it resumes, nothing is lost', async () => {
    const name = 'client-kill';
    const connectionName = `${prefix}-consumer`;
    const total = 3000;
    const producer = await (await connect()).queue<number>(name);
    const consumer = await (await connect({ connectionName, leaseTtlMs: 2000 })).queue<number>(name);
    const seen = new Map<number, number>();
    const redelivered: Delivery<number>[] = [];
    let deliveries = 0;
    await consumer.consume(
      async (delivery) => {
        deliveries++;
        const count = (seen.get(delivery.body) ?? 0) + 1;
        seen.set(delivery.body, count);
        if (count > 1) redelivered.push(delivery);
        await new Promise((resolve) => setTimeout(resolve, 1));
        await delivery.ack();
      },
      { prefetch: 50 },
    );
    const producing = (async () => {
      for (let start = 0; start < total; start += 100) {
        await producer.putMany(Array.from({ length: 100 }, (_, i) => start + i));
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    await until(() => seen.size >= total / 3, 20_000, 'a third of the stream');
    const clients = String(await admin.call('CLIENT', 'LIST'))
      .split('\n')
      .filter((line) => line.includes(` name=${connectionName} `));
    expect(clients).toHaveLength(1);
    const id = /\bid=(\d+)/.exec(clients[0]!)![1]!;
    await admin.call('CLIENT', 'KILL', 'ID', id);
    await producing;
    await until(() => seen.size === total, 30_000, `all ${total} items after the kill`);
    // Only deliveries in flight at the kill may come twice, and they say so with their attempt.
    expect(deliveries - total).toBeLessThanOrEqual(100);
    expect(redelivered.every((delivery) => delivery.attempt >= 2)).toBe(true);
    expect(await producer.size()).toBe(0);
  });

  it('an undecodable payload is dead-lettered and the worker keeps going', async () => {
    const name = 'poison';
    const keys = queueKeys(prefix, name);
    const queue = await (await connect()).queue<string>(name);
    // A stored item whose payload is not msgpack.
    await admin.rpush(keys.ready, encodeItem('poison-1', Buffer.from([0xc1])));
    await queue.put('good');
    const got: string[] = [];
    await queue.consume(async (delivery) => {
      got.push(delivery.body);
      await delivery.ack();
    });
    await until(() => got.length === 1, 5000, 'the good item');
    expect(got).toEqual(['good']);
    const dead = queueKeys(prefix, `${name}.dead`);
    expect(await admin.lrangeBuffer(dead.ready, 0, -1)).toEqual([
      Buffer.concat([Buffer.from('poison-1|0||'), Buffer.from([0xc1])]),
    ]);
    expect(await queue.size()).toBe(0);
  });

  it('a bad URL is a one-line ConfigError with the password redacted', async () => {
    const error = await transport.connect({ url: 'redis://user:s3cret@host:6379/not-a-db' }).catch((e) => e);
    expect(ConfigError.isInstance(error)).toBe(true);
    expect(error.message).not.toContain('s3cret');
    expect(error.message).not.toContain('\n');
  });

  it('a deleted queue stays deleted when another handle to it closes', async () => {
    const name = 'deleted-stays';
    const owner = await (await connect()).queue<number>(name);
    const otherConnection = await connect();
    const other = await otherConnection.queue<number>(name);
    await owner.put(1);
    await owner.delete();
    await otherConnection.close(); // its handle releases its lease: that must not redeclare the queue
    const keys = await admin.keys(`{${prefix}:${name}}*`);
    expect(keys).toEqual([]);
    expect(other.name).toBe(name);
  });

  it('prefix and leaseTtlMs can come from the URL query; an unknown parameter is a ConfigError', async () => {
    const urlPrefix = `${prefix}-url`;
    const connection = await transport.connect({ url: `${REDIS_URL}?prefix=${urlPrefix}&leaseTtlMs=1000` });
    try {
      const queue = await connection.queue<number>('from-url');
      await queue.put(1);
      expect(await admin.exists(queueKeys(urlPrefix, 'from-url').ready)).toBe(1);
      await queue.delete();
    } finally {
      await connection.close();
    }
    const error = await transport.connect({ url: `${REDIS_URL}?prefx=oops` }).catch((e) => e);
    expect(ConfigError.isInstance(error)).toBe(true);
    expect(error.message).toMatch(/unknown or bad query parameter "prefx"/);
  });

  it('an unreachable Redis fails connect at once with the redacted URL', async () => {
    const started = Date.now();
    const error = await transport.connect({ url: 'redis://:s3cret@127.0.0.1:1/0' }).catch((e) => e);
    expect(ConnectionClosedError.isInstance(error)).toBe(true);
    expect(error.message).toContain('redis://:***@127.0.0.1:1/0');
    expect(error.message).not.toContain('s3cret');
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

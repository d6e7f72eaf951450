import { AuthError, type Connection } from '@taskwire/core';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisTransport } from '../src/index.js';
import { type PrivateRedis, startPrivateRedis } from './redis.js';

// A private redis-server: its password changes under the test, which must disturb nobody else.
let server: PrivateRedis | undefined;
const open: { close(): unknown }[] = [];

afterAll(async () => {
  for (const closable of open) await closable.close();
  await server?.stop();
});

describe('a Redis connection that can no longer log in', () => {
  it('reports an AuthError on its error event, once, and rejects later operations with it', async () => {
    server = await startPrivateRedis({ persistent: false, password: 'first-password' });
    const connection: Connection = await createRedisTransport().connect({ url: server.url, maxBlockMs: 500 });
    open.push(connection);
    const queue = await connection.queue<number>('jobs');
    await queue.consume(async (delivery) => delivery.ack());
    const errors: Error[] = [];
    connection.on('error', (error) => errors.push(error));

    // The password changes and every client is dropped: each reconnect's login is now refused.
    const admin = new Redis(server.url);
    open.push({ close: () => admin.disconnect() });
    await admin.config('SET', 'requirepass', 'second-password');
    await admin.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');

    for (let i = 0; i < 500 && errors.length === 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(errors).toHaveLength(1);
    expect(AuthError.isInstance(errors[0])).toBe(true);
    expect(errors[0]!.message).toMatch(/refused the login/);
    await expect(queue.put(1)).rejects.toThrow();
    await expect(connection.queue('jobs')).rejects.toSatisfy((error) => AuthError.isInstance(error));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(errors).toHaveLength(1);
  }, 30_000);
});

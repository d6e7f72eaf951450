import { randomBytes } from 'node:crypto';
import type { Connection } from '@taskwire/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { createRedisTransport } from '../src/index.js';
import { prefixPattern } from '../src/keys.js';

/** The broker the tests use. */
export const REDIS_URL = process.env.TASKWIRE_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other run uses. */
export function uniquePrefix(label: string): string {
  return `tw-test-${label}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** A plain client for checking the broker directly. Throws (fails the suite) when it is down. */
export async function adminClient(): Promise<Redis> {
  const client = new Redis(REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  await client.connect().catch((error: Error) => {
    throw new Error(`Redis is not reachable at ${REDIS_URL} (${error.message}); start it before the tests`);
  });
  return client;
}

/** Delete every key under `prefix` (SCAN + UNLINK, bounded). */
export async function deleteKeys(client: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  for (let round = 0; round < 10_000; round++) {
    const [next, keys] = await client.scan(cursor, 'MATCH', prefixPattern(prefix), 'COUNT', 1000);
    if (keys.length > 0) deleted += await client.unlink(...keys);
    cursor = next;
    if (cursor === '0') break;
  }
  return deleted;
}

/**
 * A run of tests against the shared Redis under a prefix of its own, with a short lease so heartbeats happen many
 * times in a test's wait. Registers its cleanup (close every connection, delete every key) with vitest.
 */
export function shortLeaseRun(label: string, leaseTtlMs: number) {
  const prefix = uniquePrefix(label);
  const transport = createRedisTransport();
  const open: Connection[] = [];
  let admin: Redis;
  beforeAll(async () => {
    admin = await adminClient();
  });
  afterAll(async () => {
    await Promise.allSettled(open.map((connection) => connection.close()));
    await deleteKeys(admin, prefix);
    admin.disconnect();
  });
  return {
    prefix,
    /** The admin client (available once the suite started). */
    admin: () => admin,
    /** A connection under the run's prefix and lease, named `connectionName` in CLIENT LIST. */
    async connect(connectionName: string): Promise<Connection> {
      const connection = await transport.connect({
        url: `${REDIS_URL}?prefix=${prefix}&leaseTtlMs=${leaseTtlMs}`,
        connectionName,
        maxBlockMs: 200,
      });
      open.push(connection);
      return connection;
    },
    /** Every key of queue `name` still in Redis (SCAN, bounded). */
    async keysOf(name: string): Promise<string[]> {
      const found: string[] = [];
      let cursor = '0';
      for (let round = 0; round < 1000; round++) {
        const [next, keys] = await admin.scan(cursor, 'MATCH', `{${prefix}:${name}}*`, 'COUNT', 1000);
        found.push(...keys);
        cursor = next;
        if (cursor === '0') break;
      }
      return found;
    },
  };
}

// Private redis-servers (for restart tests) live in @taskwire/test-brokers, shared with `pnpm chaos`.
export { freePort, type PrivateRedis, startPrivateRedis } from '@taskwire/test-brokers';

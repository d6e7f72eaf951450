import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/** A loopback port nobody listens on right now (for private redis-server instances). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
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

/** A redis-server of the test's own on a free loopback port (never the shared one). */
export interface PrivateRedis {
  readonly url: string;
  /** SIGKILL it and start it again on the same port and directory. */
  restart(): Promise<void>;
  /** SIGKILL it and remove its directory. */
  stop(): Promise<void>;
}

/**
 * Start a private redis-server. `persistent` turns the append-only file on with an fsync per write,
 * so everything Redis acknowledged survives a SIGKILL; otherwise it keeps nothing on disk.
 */
export async function startPrivateRedis(options: { persistent: boolean }): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'taskwire-redis-private-'));
  const persistence = options.persistent
    ? ['--appendonly', 'yes', '--appendfsync', 'always', '--save', '']
    : ['--appendonly', 'no', '--save', ''];
  let server: ChildProcess | undefined;
  const start = async () => {
    server = spawn(
      'redis-server',
      ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, ...persistence],
      {
        stdio: 'ignore',
      },
    );
    const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null });
    client.on('error', () => undefined);
    try {
      for (let attempt = 0; ; attempt++) {
        // Loading the append-only file answers PING with LOADING: wait for a real PONG.
        const pong = await client
          .connect()
          .then(() => client.ping())
          .catch(() => undefined);
        if (pong === 'PONG') return;
        if (attempt >= 200) throw new Error(`private redis-server on port ${port} did not start`);
        client.disconnect();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      client.disconnect();
    }
  };
  const kill = async () => {
    if (!server || server.exitCode !== null || server.signalCode !== null) return;
    const exited = new Promise((resolve) => server!.once('exit', resolve));
    server.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    restart: async () => {
      await kill();
      await start();
    },
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

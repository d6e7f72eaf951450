import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection, Delivery } from '@taskwire/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisTransport } from '../src/index.js';
import { freePort } from './redis.js';

// A private redis-server on its own loopback port, so restarting it disturbs nobody else.
const dir = mkdtempSync(join(tmpdir(), 'taskwire-redis-restart-'));
let server: ChildProcess | undefined;
const open: Connection[] = [];

async function startRedis(port: number): Promise<void> {
  server = spawn(
    'redis-server',
    ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir],
    {
      stdio: 'ignore',
    },
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = createServer().listen(port, '127.0.0.1');
      socket.once('listening', () => socket.close(() => resolve(false)));
      socket.once('error', () => resolve(true)); // the port is taken: redis is listening
    });
    if (up) return;
    if (Date.now() > deadline) throw new Error('redis-server did not start');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function stopRedis(): Promise<void> {
  if (!server || server.exitCode !== null) return;
  const exited = new Promise((resolve) => server!.once('exit', resolve));
  server.kill('SIGKILL');
  await exited;
}

afterAll(async () => {
  await Promise.allSettled(open.map((connection) => connection.close()));
  await stopRedis();
  rmSync(dir, { recursive: true, force: true });
});

describe('a Redis restart', () => {
  it('producers and consumers resume by themselves once Redis is back', async () => {
    const port = await freePort();
    await startRedis(port);
    const url = `redis://127.0.0.1:${port}`;
    const transport = createRedisTransport();
    const producerConnection = await transport.connect({ url, maxBlockMs: 500 });
    const consumerConnection = await transport.connect({ url, maxBlockMs: 500 });
    open.push(producerConnection, consumerConnection);
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

    // Redis dies (this server keeps nothing on disk) and comes back on the same port.
    await stopRedis();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await startRedis(port);

    // The queue's declaration went with the data; the producer declares it again on a new handle.
    const producerAgain = await producerConnection.queue<number>('jobs');
    await producerAgain.putMany([4, 5, 6]);
    for (let i = 0; i < 500 && seen.size < 6; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect([...seen].sort()).toEqual([1, 2, 3, 4, 5, 6]);
    // The old producer handle works too.
    await producer.put(7);
    for (let i = 0; i < 500 && seen.size < 7; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(seen.has(7)).toBe(true);
  }, 30_000);
});

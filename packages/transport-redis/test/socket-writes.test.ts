import type { Connection } from '@taskwire/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockingPool } from '../src/blocking.js';
import { createRedisTransport } from '../src/index.js';
import { adminClient, deleteKeys, REDIS_URL, uniquePrefix } from './redis.js';

// Every socket write is a syscall that, on loopback, also runs the server's receive path: on the
// path of every task, commands sent in the same turn leave together.

type Flush = (...args: unknown[]) => unknown;

/** Count the writes `client`'s socket makes from now on (one per _write or _writev, i.e. per syscall). */
function countWrites(client: Redis): () => number {
  const socket = client.stream as unknown as { _write: Flush; _writev?: Flush };
  let writes = 0;
  const write = socket._write;
  const writev = socket._writev;
  socket._write = function (this: unknown, ...args: unknown[]) {
    writes++;
    return write.apply(this, args);
  };
  if (writev) {
    socket._writev = function (this: unknown, ...args: unknown[]) {
      writes++;
      return writev.apply(this, args);
    };
  }
  return () => writes;
}

async function plainClient(): Promise<Redis> {
  const client = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: null });
  await client.connect();
  return client;
}

const prefix = uniquePrefix('socket-writes');
const clients: Redis[] = [];
const connections: Connection[] = [];
let admin: Redis;

beforeAll(async () => {
  admin = await adminClient();
});

afterAll(async () => {
  await Promise.allSettled(connections.map((connection) => connection.close()));
  for (const client of clients) client.disconnect();
  await deleteKeys(admin, prefix);
  admin.disconnect();
});

describe('redis: socket writes per task', () => {
  it('an ack and a put of the same turn, on two queues of one connection, leave in one write', async () => {
    const client = await plainClient();
    clients.push(client);
    const connection = await createRedisTransport().connect({ client, prefix });
    connections.push(connection);
    const results = await connection.queue<string>('results');
    const tasks = await connection.queue<string>('tasks');
    await results.put('result');
    const delivery = await results.get({ timeoutMs: 1000 });
    const writes = countWrites(client);
    // What a master does when a result comes back: ack it, and submit the next task.
    await Promise.all([delivery.ack(), tasks.put('next')]);
    expect(writes()).toBe(1);
    expect(await tasks.size()).toBe(1);
    expect(await results.size()).toBe(0);
  });

  it("a wait's BLPOP and the command behind it leave in one write", async () => {
    const client = await plainClient();
    const pool = new BlockingPool(() => client);
    const wake = `{${prefix}:q}:wake`;
    await admin.rpush(wake, '1');
    const writes = countWrites(client);
    const { result, lost } = await pool.waitThen(
      wake,
      `{${prefix}:q}:unblock:1`,
      1000,
      undefined,
      () => Promise.resolve(),
      (blocking) => blocking.echo('taken'),
    );
    expect({ result, lost }).toEqual({ result: 'taken', lost: false });
    expect(writes()).toBe(1);
    pool.close();
  });
});

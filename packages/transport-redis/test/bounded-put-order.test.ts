import type { Connection } from '@taskwire/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisTransport } from '../src/index.js';
import { adminClient, deleteKeys, REDIS_URL, uniquePrefix } from './redis.js';

const transport = createRedisTransport();
const prefix = uniquePrefix('put-order');
const open: Connection[] = [];

afterAll(async () => {
  await Promise.allSettled(open.map((connection) => connection.close()));
  const admin = await adminClient();
  await deleteKeys(admin, prefix);
  admin.disconnect();
});

async function connect(connectionName?: string, maxBlockMs = 5000): Promise<Connection> {
  const connection = await transport.connect({ url: REDIS_URL, prefix, maxBlockMs, connectionName });
  open.push(connection);
  return connection;
}

/** Poll `condition` every 20 ms for at most `ms`. */
async function until(condition: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('redis puts blocked on a full queue', () => {
  it('are served in the order they blocked as room frees one item at a time', async () => {
    for (let round = 0; round < 3; round++) {
      const name = `fifo-${round}`;
      const owner = await (await connect()).queue<string>(name, { maxsize: 1 });
      await owner.put('first');
      const stored: string[] = [];
      const putters: Promise<void>[] = [];
      // Each putter on its own connection, and each blocked (its first try refused) before the next starts.
      // The first re-blocks every 100 ms, so the server's own queue of blocked clients soon has it last.
      for (const label of ['a', 'b', 'c']) {
        const connectionName = `${prefix}-${round}-${label}`;
        const connection = await connect(connectionName, label === 'a' ? 100 : 5000);
        const queue = await connection.queue<string>(name, { maxsize: 1 });
        putters.push(queue.put(label, { timeoutMs: 30_000 }).then(() => void stored.push(label)));
        await until(() => blocked(`${connectionName}:block`), 5000, `putter ${label} blocked`);
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      const taken: string[] = [];
      for (let i = 0; i < 4; i++) {
        const delivery = await owner.get({ timeoutMs: 10_000 });
        taken.push(delivery.body);
        await delivery.ack();
      }
      await Promise.all(putters);
      expect(taken).toEqual(['first', 'a', 'b', 'c']);
      expect(stored).toEqual(['a', 'b', 'c']);
    }
  });
});

/** Whether the connection named `name` is blocked in a BLPOP (a put waiting for room). */
async function blocked(name: string): Promise<boolean> {
  const admin = await adminClient();
  try {
    const clients = (await admin.client('LIST')) as string;
    return clients.split('\n').some((line) => line.includes(` name=${name} `) && line.includes(' cmd=blpop'));
  } finally {
    admin.disconnect();
  }
}

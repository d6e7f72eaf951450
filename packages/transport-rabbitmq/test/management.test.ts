import { AuthError, type Connection, UnsupportedError } from '@taskwire/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createRabbitMQTransport,
  RABBITMQ_CAPABILITIES,
  RABBITMQ_MANAGED_CAPABILITIES,
  RABBITMQ_QUORUM_MANAGED_CAPABILITIES,
} from '../src/index.js';
import { type PrivateBroker, runPrefix, startPrivateBroker } from './broker.js';

// The management API path of inspection, on a private node with the rabbitmq_management plugin (the shared broker
// runs without it).

const transport = createRabbitMQTransport();
const prefix = runPrefix();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
let node: PrivateBroker;
const open: Connection[] = [];

async function connect(options: Record<string, unknown>): Promise<Connection> {
  const connection = await transport.connect(options);
  open.push(connection);
  return connection;
}

/** Poll until `read()` satisfies `ok` (the management API samples its figures), failing with the last value. */
async function eventually<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 15_000;
  let last: T;
  for (;;) {
    last = await read();
    if (ok(last)) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last ${JSON.stringify(last)}`);
    await sleep(100);
  }
}

beforeAll(async () => {
  node = await startPrivateBroker({ management: true });
}, 120_000);
afterEach(async () => {
  for (const connection of open.splice(0)) await connection.close();
});
afterAll(() => node?.stop());

describe('rabbitmq inspection through the management API', () => {
  it('with managementUrl: listQueues lists the queues, sorted, without taskwire internal ones', async () => {
    const connection = await connect({ url: node.url, managementUrl: node.managementUrl });
    expect(connection.transport.capabilities).toEqual(RABBITMQ_MANAGED_CAPABILITIES);
    const names = [`${prefix}.b`, `${prefix}.a`, `${prefix}.a.dead`, `${prefix}.a.delayed`];
    for (const name of names) await connection.queue(name);
    const bounded = await connection.queue<number>(`${prefix}.bounded`, { maxsize: 5 });
    await bounded.put(1, { delayMs: 60_000 }); // creates its delay queue, due queue and index
    const listed = await connection.listQueues();
    expect(listed).toEqual([...listed].sort());
    expect(listed.filter((name) => name.startsWith(prefix))).toEqual([...names, `${prefix}.bounded`].sort());
    expect(listed.some((name) => name.startsWith('taskwire.index.'))).toBe(false);
  });

  it('stats reports in-flight deliveries from the management API', async () => {
    const connection = await connect({ url: node.url, managementUrl: node.managementUrl });
    const admin = await connect({ url: node.url, managementUrl: node.managementUrl });
    const name = `${prefix}.in-flight`;
    const queue = await connection.queue<number>(name);
    await queue.putMany([1, 2, 3]);
    const held = await queue.get({ timeoutMs: 5000 });
    const stats = await eventually(
      () => admin.stats(name),
      (value) => value.inFlight === 1,
      'one delivery in flight',
    );
    expect(stats).toMatchObject({ ready: 2, delayed: 0, inFlight: 1, consumers: 0 });
    await held.ack();
    await eventually(
      () => admin.stats(name),
      (value) => value.inFlight === 0,
      'nothing in flight',
    );
  });

  it('the URL parameter ?management= works like the option, with the AMQP credentials; quorum profile too', async () => {
    const url = `${node.url}/?management=${encodeURIComponent(node.managementUrl!)}&queueType=quorum`;
    const connection = await connect({ url });
    expect(connection.transport.capabilities).toEqual(RABBITMQ_QUORUM_MANAGED_CAPABILITIES);
    await connection.queue(`${prefix}.from-url`);
    expect(await connection.listQueues()).toContain(`${prefix}.from-url`);
    // The transport made with that URL as its defaults tells the same.
    expect(createRabbitMQTransport({ url }).capabilities).toEqual(RABBITMQ_QUORUM_MANAGED_CAPABILITIES);
  });

  it('credentials in the management URL win; a refused login is an AuthError', async () => {
    const wrong = new URL(node.managementUrl!);
    wrong.username = 'guest';
    wrong.password = 'not-the-password';
    const connection = await connect({ url: node.url, managementUrl: wrong.toString() });
    const error = await connection.listQueues().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(AuthError.isInstance(error), String(error)).toBe(true);
    expect((error as Error).message).not.toContain('not-the-password');
  });

  it('without a management URL listQueues is refused and inFlight is undefined', async () => {
    const connection = await connect({ url: node.url });
    expect(connection.transport.capabilities).toEqual(RABBITMQ_CAPABILITIES);
    await expect(connection.listQueues()).rejects.toSatisfy((error) => UnsupportedError.isInstance(error));
    const name = `${prefix}.unmanaged`;
    await (await connection.queue<number>(name)).put(1);
    expect(await connection.stats(name)).toMatchObject({ ready: 1, inFlight: undefined });
  });
});

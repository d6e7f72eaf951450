import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { Connection } from '@taskwire/core';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRabbitMQTransport } from '../src/index.js';
import { AMQP_URL, assertBroker } from './broker.js';

// Broadcast exchanges must not outlive their subscribers: a finished job's channel leaves nothing on the broker.
const run = promisify(execFile);
const transport = createRabbitMQTransport();
const prefix = `lft-bcast-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const open: Connection[] = [];

beforeAll(assertBroker);
afterAll(async () => {
  await Promise.allSettled(open.map((connection) => connection.close()));
  // Whatever a failed test left: every exchange and queue of this run.
  const connection = await amqp.connect(AMQP_URL);
  try {
    for (const what of ['exchanges', 'queues'] as const) {
      for (const name of await namesOf(prefix, what)) {
        const channel = await connection.createChannel();
        channel.on('error', () => undefined);
        await (what === 'exchanges' ? channel.deleteExchange(name) : channel.deleteQueue(name)).catch(
          () => undefined,
        );
        await channel.close().catch(() => undefined);
      }
    }
  } finally {
    await connection.close();
  }
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function connect(): Promise<Connection> {
  const connection = await transport.connect({ url: AMQP_URL });
  open.push(connection);
  return connection;
}

/** Names of the broker's exchanges (or queues) that contain `part`, as `rabbitmqctl` lists them. */
async function namesOf(part: string, what: 'exchanges' | 'queues' = 'exchanges'): Promise<string[]> {
  const { stdout } = await run('rabbitmqctl', ['-q', `list_${what}`, 'name', '--no-table-headers'], {
    timeout: 30_000,
  });
  return stdout.split('\n').filter((name) => name.includes(part));
}

/** Poll (bounded) until no exchange of `channel` is left; resolves with what is left at the end. */
async function exchangesLeft(channel: string): Promise<string[]> {
  let left = await namesOf(channel);
  for (let round = 0; round < 10 && left.length > 0; round++) {
    await sleep(300);
    left = await namesOf(channel);
  }
  return left;
}

/** Resolves once `inbox` holds `count` messages; fails after 5 s. */
async function received(inbox: unknown[], count: number): Promise<void> {
  for (let round = 0; round < 500 && inbox.length < count; round++) await sleep(10);
  expect(inbox).toHaveLength(count);
}

describe('rabbitmq broadcast exchanges', () => {
  it('an unsubscribed channel leaves no exchange behind', async () => {
    const channel = `${prefix}.unsubscribed`;
    const subscriber = await connect();
    const publisher = await connect();
    const inbox: string[] = [];
    const subscription = await subscriber.subscribe<string>(channel, (message) => inbox.push(message));
    expect(await namesOf(channel)).toHaveLength(1);
    await publisher.publish(channel, 'hello');
    await received(inbox, 1);

    await subscription.unsubscribe();
    expect(await exchangesLeft(channel)).toEqual([]);
  });

  it('a subscriber whose connection closes leaves no exchange behind', async () => {
    const channel = `${prefix}.closed`;
    const subscriber = await connect();
    await subscriber.subscribe(channel, () => undefined);
    expect(await namesOf(channel)).toHaveLength(1);
    await subscriber.close();
    expect(await exchangesLeft(channel)).toEqual([]);
  });

  it('the exchange stays while one subscriber remains, and goes with the last', async () => {
    const channel = `${prefix}.two`;
    const publisher = await connect();
    const first = await connect();
    const second = await connect();
    const inbox: string[] = [];
    const leaving = await first.subscribe(channel, () => undefined);
    const staying = await second.subscribe<string>(channel, (message) => inbox.push(message));
    await leaving.unsubscribe();
    await publisher.publish(channel, 'still here');
    await received(inbox, 1);
    expect(inbox).toEqual(['still here']);
    await staying.unsubscribe();
    expect(await exchangesLeft(channel)).toEqual([]);
  });

  it('publish with no subscribers resolves, declares nothing, and leaves the connection usable', async () => {
    const channel = `${prefix}.nobody`;
    const publisher = await connect();
    await publisher.publish(channel, 'anyone?');
    await publisher.publish(channel, 'still nobody');
    expect(await namesOf(channel)).toEqual([]);

    // Puts on the same connection still work, and a later subscriber gets later broadcasts.
    const queue = await publisher.queue<string>(`${prefix}.after-nobody`);
    await queue.put('x');
    expect((await queue.get({ timeoutMs: 2000 })).body).toBe('x');
    await queue.delete();
    const subscriber = await connect();
    const inbox: string[] = [];
    const subscription = await subscriber.subscribe<string>(channel, (message) => inbox.push(message));
    await publisher.publish(channel, 'now someone');
    await received(inbox, 1);
    expect(inbox).toEqual(['now someone']);
    await subscription.unsubscribe();
    expect(await exchangesLeft(channel)).toEqual([]);
  });

  it('a publish to a channel nobody hears does not lose a concurrent publish to one somebody hears', async () => {
    const heard = `${prefix}.heard`;
    const unheard = `${prefix}.unheard`;
    const publisher = await connect();
    const subscriber = await connect();
    const inbox: number[] = [];
    const subscription = await subscriber.subscribe<number>(heard, (message) => inbox.push(message));
    const sends: Promise<void>[] = [];
    for (let index = 0; index < 20; index++) {
      sends.push(publisher.publish(unheard, index), publisher.publish(heard, index));
    }
    await Promise.all(sends);
    await received(inbox, 20);
    expect([...inbox].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, index) => index));
    await subscription.unsubscribe();
    expect(await exchangesLeft(heard)).toEqual([]);
    expect(await exchangesLeft(unheard)).toEqual([]);
  });
});

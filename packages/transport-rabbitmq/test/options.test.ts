import {
  ConfigError,
  ConnectionClosedError,
  MAX_DURATION_MS,
  QueueEmptyError,
  UnsupportedError,
} from '@taskwire/core';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { delayBucket } from '../src/arguments.js';
import transportFactory, { createRabbitMQTransport } from '../src/index.js';
import { AMQP_URL, assertBroker, deleteQueues, queueNamer } from './broker.js';

const transport = createRabbitMQTransport();
const { name, used } = queueNamer();

beforeAll(assertBroker);
afterAll(() => deleteQueues(used, [delayBucket(MAX_DURATION_MS)]));

describe('rabbitmq options and errors', () => {
  it('exports a default factory that core can load', () => {
    const made = transportFactory();
    expect(made.name).toBe('rabbitmq');
    expect(made.schemes).toEqual(['amqp', 'amqps']);
    expect(made.capabilities.lifo).toBe(false);
  });

  it('a malformed URL is a one-line ConfigError with the password redacted', async () => {
    const error = await transport.connect({ url: 'http://user:s3cret@host' }).catch((e: Error) => e);
    expect(ConfigError.isInstance(error)).toBe(true);
    expect((error as Error).message).not.toContain('s3cret');
    expect((error as Error).message).toMatch(/amqp:\/\//);
    expect((error as Error).message).not.toContain('\n');
  });

  it('an unreachable broker is a clear one-line error naming the redacted URL', async () => {
    const error = await transport
      .connect({ url: 'amqp://guest:hunter2@127.0.0.1:1', connectTimeoutMs: 2000 })
      .catch((e: Error) => e);
    expect(ConnectionClosedError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain('amqp://guest:***@127.0.0.1:1');
    expect((error as Error).message).not.toContain('hunter2');
  });

  it('connects with separate options instead of a URL', async () => {
    const connection = await transport.connect({ hostname: '127.0.0.1', port: 5672, heartbeat: 10 });
    const queue = await connection.queue<string>(name('options-form'));
    await queue.put('x');
    expect((await queue.get({ timeoutMs: 2000 })).body).toBe('x');
    await connection.close();
  });

  it('lifo is refused naming the transports that can do it', async () => {
    const connection = await transport.connect({ url: AMQP_URL });
    const error = await connection.queue(name('lifo'), { order: 'lifo' }).catch((e: Error) => e);
    expect(UnsupportedError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/lifo.*rabbitmq.*memory, tcp or redis/is);
    await connection.close();
  });

  it('a conflicting broker argument is a ConfigError naming queue and option; the connection survives', async () => {
    const queueName = name('conflict');
    const connection = await transport.connect({ url: AMQP_URL });
    try {
      const queue = await connection.queue<number>(queueName, { maxsize: 5 });
      await queue.put(1);
      const error = await connection.queue(queueName, { maxsize: 6 }).catch((e: Error) => e);
      expect(ConfigError.isInstance(error)).toBe(true);
      expect((error as Error).message).toContain(queueName);
      expect((error as Error).message).toContain('maxsize');
      // Same options, no options, and other queues all still work on this connection.
      await connection.queue(queueName, { maxsize: 5 });
      const reopened = await connection.queue<number>(queueName);
      expect((await reopened.get({ timeoutMs: 2000 })).body).toBe(1);
    } finally {
      await connection.close();
    }
  });

  it('opening a queue without options while another process creates it opens it as it is, never a ConfigError', async () => {
    const connection = await transport.connect({ url: AMQP_URL });
    const raw = await amqp.connect(AMQP_URL);
    try {
      const channel = await raw.createChannel();
      // Each round races our check-then-declare against a plain declare (the way a consumer creates `<name>.dead`).
      for (let round = 0; round < 40; round++) {
        const queueName = name(`race-${round}`);
        const [, queue] = await Promise.all([
          channel.assertQueue(queueName, { durable: true }),
          connection.queue<number>(queueName),
        ]);
        await queue.put(round);
        expect((await queue.get({ timeoutMs: 2000 })).body).toBe(round);
      }
    } finally {
      await raw.close();
      await connection.close();
    }
  });

  it('transient mode declares non-durable queues', async () => {
    const queueName = name('transient');
    const connection = await transport.connect({ url: AMQP_URL, durable: false });
    await connection.queue(queueName);
    await connection.close();
    const durable = await transport.connect({ url: AMQP_URL });
    const error = await durable.queue(queueName, { maxsize: 0 }).catch((e: Error) => e);
    expect(ConfigError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain('durable');
    await durable.close();
  });
});

describe('delay buckets', () => {
  it('the longest delay taskwire accepts fits the broker: its TTL queue is declared and holds the item', async () => {
    const connection = await transport.connect({ url: AMQP_URL });
    try {
      const queue = await connection.queue<string>(name('max-delay'));
      await queue.put('far', { delayMs: MAX_DURATION_MS });
      const error = await queue.get({ timeoutMs: 200 }).then(
        () => expect.fail('a 365-day delayed item must not be visible'),
        (reason: unknown) => reason,
      );
      expect(QueueEmptyError.isInstance(error)).toBe(true);
      expect(await queue.size()).toBe(1);
    } finally {
      await connection.close();
    }
  });

  it('round delays up to two significant digits so jittered retries share TTL queues', async () => {
    expect(delayBucket(0.4)).toBe(1);
    expect(delayBucket(37)).toBe(37);
    expect(delayBucket(101)).toBe(110);
    expect(delayBucket(1234)).toBe(1300);
    expect(delayBucket(29_999)).toBe(30_000);
    const buckets = new Set(Array.from({ length: 1000 }, (_, i) => delayBucket(100 + i * 29.9)));
    expect(buckets.size).toBeLessThan(200);
    for (let ms = 1; ms < 100_000; ms = Math.ceil(ms * 1.37)) {
      expect(delayBucket(ms)).toBeGreaterThanOrEqual(ms);
      expect(delayBucket(ms)).toBeLessThanOrEqual(Math.ceil(ms * 1.1));
    }
  });
});

describe('socket options', () => {
  it('turns Nagle off (TCP_NODELAY) on the broker socket by default', async () => {
    const { Socket } = await import('node:net');
    const original = Socket.prototype.setNoDelay;
    const calls: (boolean | undefined)[] = [];
    Socket.prototype.setNoDelay = function (this: InstanceType<typeof Socket>, noDelay?: boolean) {
      calls.push(noDelay);
      return original.call(this, noDelay);
    };
    try {
      const connection = await transport.connect({ url: AMQP_URL });
      await connection.close();
    } finally {
      Socket.prototype.setNoDelay = original;
    }
    expect(calls).toContain(true);
  });
});

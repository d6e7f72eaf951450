import { proxiedConnections } from '@taskwire/conformance';
import { type Delivery, QueueNotFoundError } from '@taskwire/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRabbitMQTransport } from '../src/index.js';
import { AMQP_URL, assertBroker, deleteQueues, queueNamer } from './broker.js';

// Puts the broker cannot route, and attempts counted across repeated connection losses.

const transport = createRabbitMQTransport();
const { name, used } = queueNamer();
const broker = new URL(AMQP_URL);
const proxied = proxiedConnections(
  { host: broker.hostname, port: Number(broker.port || 5672) },
  (port, options) => {
    const url = new URL(AMQP_URL);
    url.hostname = '127.0.0.1';
    url.port = String(port);
    return transport.connect({
      url: url.toString(),
      reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
      ...options,
    });
  },
);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Poll `condition` every 20 ms, failing after `ms`. */
async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

beforeAll(assertBroker);
afterAll(async () => {
  await proxied.close();
  await deleteQueues(used);
});

describe('rabbitmq: unroutable puts', () => {
  it('a put to a queue deleted behind the handle rejects with QueueNotFoundError, it is not confirmed and dropped', async () => {
    const queueName = name('deleted');
    const connection = await transport.connect({ url: AMQP_URL });
    const other = await transport.connect({ url: AMQP_URL });
    try {
      const queue = await connection.queue<string>(queueName);
      await queue.put('kept');
      await (await other.queue<string>(queueName)).delete();
      const error = await queue.put('lost?').then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(QueueNotFoundError.isInstance(error), String(error)).toBe(true);
      expect((error as QueueNotFoundError).code).toBe('TASKWIRE_QUEUE_NOT_FOUND');
      expect((error as Error).message).toContain(queueName);
      // putMany reports it too, and the connection keeps working for other queues.
      await expect(queue.putMany(['a', 'b'])).rejects.toSatisfy((e) => QueueNotFoundError.isInstance(e));
      const alive = await connection.queue<string>(name('alive'));
      await alive.put('fine');
      expect((await alive.get({ timeoutMs: 5000 })).body).toBe('fine');
    } finally {
      await connection.close();
      await other.close();
    }
  });
});

describe('rabbitmq: attempts across connection losses', () => {
  it('one consumer whose connection is broken twice sees attempts 1, 2, 3', async () => {
    const queueName = name('two-losses');
    const producer = await transport.connect({ url: AMQP_URL });
    const victim = await proxied.connect();
    try {
      await (await producer.queue<string>(queueName)).put('poison');
      const seen: Delivery<string>[] = [];
      await (await victim.queue<string>(queueName)).consume(
        (delivery) => {
          seen.push(delivery); // held, never settled: like a worker cut off mid-task
        },
        { prefetch: 1 },
      );
      for (let loss = 1; loss <= 2; loss++) {
        await until(() => seen.length >= loss, 10_000, `delivery ${loss}`);
        proxied.breakConnection(victim);
      }
      await until(() => seen.length >= 3, 15_000, 'the third delivery');
      expect(seen.map((delivery) => delivery.attempt)).toEqual([1, 2, 3]);
      expect(seen.every((delivery) => delivery.body === 'poison')).toBe(true);
      await seen[2]!.ack();
    } finally {
      await victim.close();
      await producer.close();
    }
  }, 40_000);

  it('gets on one connection broken twice see attempts 1, 2, 3', async () => {
    const queueName = name('two-losses-get');
    const producer = await transport.connect({ url: AMQP_URL });
    const victim = await proxied.connect();
    try {
      await (await producer.queue<string>(queueName)).put('poison');
      const queue = await victim.queue<string>(queueName);
      const attempts: number[] = [];
      for (let loss = 1; loss <= 2; loss++) {
        attempts.push((await queue.get({ timeoutMs: 10_000 })).attempt);
        proxied.breakConnection(victim);
      }
      const last = await queue.get({ timeoutMs: 15_000 });
      attempts.push(last.attempt);
      await last.ack();
      expect(attempts).toEqual([1, 2, 3]);
    } finally {
      await victim.close();
      await producer.close();
    }
  }, 40_000);

  // A full bounded queue refuses the copy that records a delivery: the item used to be requeued natively, where
  // only the boolean `redelivered` remembered it, so the second loss went uncounted (attempts 1, 2, 2).
  it('on a full bounded queue, a consumer broken twice sees attempts 1, 2, 3', async () => {
    const queueName = name('two-losses-full');
    const producer = await transport.connect({ url: AMQP_URL });
    const victim = await proxied.connect();
    try {
      const queue = await producer.queue<string>(queueName, { maxsize: 2 });
      await queue.put('poison');
      const seen: Delivery<string>[] = [];
      await (await victim.queue<string>(queueName)).consume(
        async (delivery) => {
          if (delivery.body === 'poison')
            seen.push(delivery); // held, never settled
          else await delivery.ack();
        },
        { prefetch: 1 },
      );
      await until(() => seen.length >= 1, 10_000, 'delivery 1');
      await queue.putMany(['filler 1', 'filler 2']); // the queue is full while the poison is held
      for (let loss = 1; loss <= 2; loss++) {
        await until(() => seen.length >= loss, 10_000, `delivery ${loss}`);
        proxied.breakConnection(victim);
      }
      await until(() => seen.length >= 3, 15_000, 'the third delivery');
      expect(seen.map((delivery) => delivery.attempt)).toEqual([1, 2, 3]);
      await seen[2]!.ack();
    } finally {
      await victim.close();
      await producer.close();
    }
  }, 40_000);

  it('a requeue into a full bounded queue and then a connection loss count both deliveries', async () => {
    const queueName = name('nack-full-loss');
    const producer = await transport.connect({ url: AMQP_URL });
    const victim = await proxied.connect();
    try {
      const queue = await producer.queue<string>(queueName, { maxsize: 2 });
      await queue.put('poison');
      const seen: Delivery<string>[] = [];
      await (await victim.queue<string>(queueName)).consume(
        async (delivery) => {
          if (delivery.body === 'poison') seen.push(delivery);
          else await delivery.ack();
        },
        { prefetch: 1 },
      );
      await until(() => seen.length >= 1, 10_000, 'delivery 1');
      await queue.putMany(['filler 1', 'filler 2']);
      await seen[0]!.nack({ requeue: true }); // refused by the full queue
      await until(() => seen.length >= 2, 10_000, 'delivery 2');
      proxied.breakConnection(victim);
      await until(() => seen.length >= 3, 15_000, 'delivery 3');
      expect(seen.map((delivery) => delivery.attempt)).toEqual([1, 2, 3]);
      await seen[2]!.ack();
    } finally {
      await victim.close();
      await producer.close();
    }
  }, 40_000);
});

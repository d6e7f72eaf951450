import { startFaultProxy } from '@taskwire/conformance';
import { type Connection, ConnectionClosedError, QueueNotFoundError } from '@taskwire/core';
import amqp from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRabbitMQTransport } from '../src/index.js';
import { AMQP_URL, assertBroker, deleteQueues, queueNamer } from './broker.js';

const transport = createRabbitMQTransport();
const { name, used } = queueNamer();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const cleanups: (() => unknown)[] = [];

/** Poll `condition` every 20 ms, failing after `ms`. */
async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

async function connected(options: Record<string, unknown> = {}): Promise<Connection> {
  const connection = await transport.connect({ url: AMQP_URL, ...options });
  cleanups.push(() => connection.close());
  return connection;
}

beforeAll(assertBroker);
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(() => deleteQueues(used));

describe('rabbitmq connection lifecycle', () => {
  it('a consumer whose queue the broker deleted consumes again once the queue exists again', async () => {
    const queueName = name('broker-cancel');
    const consumerConnection = await connected();
    const consumerQueue = await consumerConnection.queue<string>(queueName);
    const received: string[] = [];
    await consumerQueue.consume(async (delivery) => {
      received.push(delivery.body);
      await delivery.ack();
    });
    const producerConnection = await connected();
    const producer = await producerConnection.queue<string>(queueName);
    await producer.put('before');
    await until(() => received.includes('before'), 10_000, 'the first item');

    // Someone deletes the queue behind taskwire's back (rabbitmqctl, the management UI, another client):
    // the broker cancels the consumer. Then the queue is declared again and receives an item.
    const raw = await amqp.connect(AMQP_URL);
    cleanups.push(() => raw.close());
    const channel = await raw.createChannel();
    await channel.deleteQueue(queueName);
    const again = await producerConnection.queue<string>(queueName);
    await again.put('after');

    await until(() => received.includes('after'), 20_000, 'the item put after the queue came back');
    expect(received).toEqual(['before', 'after']);
  });

  it('a consumer whose queue stays deleted past reconnectDeadlineMs fails the connection on its error event', async () => {
    const queueName = name('cancel-gone');
    const deadlineMs = 1500;
    const connection = await connected({ reconnectDeadlineMs: deadlineMs });
    const errors: Error[] = [];
    connection.on('error', (error) => errors.push(error));
    const queue = await connection.queue<string>(queueName);
    await queue.consume(async (delivery) => {
      await delivery.ack();
    });

    const raw = await amqp.connect(AMQP_URL);
    cleanups.push(() => raw.close());
    const deletedAt = Date.now();
    await (await raw.createChannel()).deleteQueue(queueName);

    await until(() => errors.length > 0, deadlineMs + 10_000, 'the error event');
    expect(Date.now() - deletedAt).toBeGreaterThanOrEqual(deadlineMs - 50);
    expect(QueueNotFoundError.isInstance(errors[0])).toBe(true);
    expect((errors[0] as QueueNotFoundError).code).toBe('TASKWIRE_QUEUE_NOT_FOUND');
    expect(errors[0]!.message).toContain(`"${queueName}"`);
    expect(errors[0]!.message).not.toContain('\n');
    // Terminal: every operation rejects with that failure afterwards, and it is reported once.
    await expect(queue.put('x')).rejects.toThrow(/did not come back/);
    await expect(connection.queue(queueName)).rejects.toThrow(/did not come back/);
    await sleep(200);
    expect(errors).toHaveLength(1);
  });

  it('a consumer whose queue comes back within reconnectDeadlineMs resumes without an error event', async () => {
    const queueName = name('cancel-back');
    const deadlineMs = 3000;
    const connection = await connected({ reconnectDeadlineMs: deadlineMs });
    const errors: Error[] = [];
    connection.on('error', (error) => errors.push(error));
    const queue = await connection.queue<string>(queueName);
    const received: string[] = [];
    await queue.consume(async (delivery) => {
      received.push(delivery.body);
      await delivery.ack();
    });

    const raw = await amqp.connect(AMQP_URL);
    cleanups.push(() => raw.close());
    const deletedAt = Date.now();
    await (await raw.createChannel()).deleteQueue(queueName);
    await sleep(300);
    const producer = await (await connected()).queue<string>(queueName);
    await producer.put('after');

    await until(() => received.includes('after'), 20_000, 'the item put after the queue came back');
    await sleep(Math.max(0, deletedAt + deadlineMs + 1000 - Date.now())); // well past the deadline
    expect(errors).toEqual([]);
    await producer.put('later');
    await until(() => received.includes('later'), 10_000, 'an item put after the deadline');
  });

  it('giving up reconnecting is reported once on the error event, and operations reject afterwards', async () => {
    const proxy = await startFaultProxy({ port: Number(new URL(AMQP_URL).port || 5672) });
    const credentials = new URL(AMQP_URL);
    credentials.host = `127.0.0.1:${proxy.port}`;
    const connection = await connected({
      url: credentials.toString(),
      reconnect: { initialDelayMs: 20, maxDelayMs: 50, maxRetries: 2 },
    });
    const queueName = name('give-up');
    const queue = await connection.queue<number>(queueName);
    const errors: Error[] = [];
    connection.on('error', (error) => errors.push(error));

    await proxy.close(); // the broker is gone for good: every reconnect attempt fails
    await until(() => errors.length > 0, 10_000, 'the error event');
    expect(ConnectionClosedError.isInstance(errors[0])).toBe(true);
    expect(errors[0]!.message).toMatch(/gave up reconnecting/);
    await expect(queue.put(1)).rejects.toThrow();
    await expect(connection.queue(queueName)).rejects.toThrow(/gave up reconnecting/);
    await sleep(200);
    expect(errors).toHaveLength(1);
  });
});

import { type ChildProcess, execFile, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Delivery } from '@taskwire/core';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRabbitMQTransport } from '../src/index.js';
import { AMQP_URL, assertBroker, deleteQueues, queueNamer } from './broker.js';

const transport = createRabbitMQTransport();
const { name, used } = queueNamer();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Poll `condition` every 20 ms, failing after `ms`. */
async function until(condition: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

beforeAll(assertBroker);
afterAll(() => deleteQueues(used));

describe('rabbitmq resilience', () => {
  it('a consumer process killed with SIGKILL has its unacked deliveries redelivered', async () => {
    const queueName = name('sigkill');
    const connection = await transport.connect({ url: AMQP_URL });
    try {
      const queue = await connection.queue<number>(queueName);
      await queue.putMany([1, 2, 3, 4, 5]);
      const child = fork(
        fileURLToPath(new URL('./fixtures/holder.mjs', import.meta.url)),
        [AMQP_URL, queueName, '3'],
        {
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        },
      );
      const [report] = (await Promise.race([
        once(child, 'message'),
        sleep(15_000).then(() => {
          throw new Error('the holder process did not report');
        }),
      ])) as [{ held: { id: string; body: number; attempt: number }[] }];
      expect(report.held.map((d) => d.body)).toEqual([1, 2, 3]);
      child.kill('SIGKILL');
      await once(child, 'exit');

      const received: Delivery<number>[] = [];
      const handle = await queue.consume(async (delivery) => {
        received.push(delivery);
        await delivery.ack();
      });
      await until(() => received.length >= 5, 10_000, 'all five items');
      await handle.cancel();
      expect(received.map((d) => d.body).sort()).toEqual([1, 2, 3, 4, 5]);
      for (const held of report.held) {
        const again = received.find((d) => d.body === held.body)!;
        expect(again.id).toBe(held.id);
        expect(again.attempt).toBe(2);
      }
    } finally {
      await connection.close();
    }
  }, 30_000);

  it('a consumer killed without goodbye three times: the attempts read 1, 2, 3, 4', async () => {
    const queueName = name('trn-crash-count');
    const connection = await transport.connect({ url: AMQP_URL });
    const children: ChildProcess[] = [];
    try {
      const queue = await connection.queue<string>(queueName);
      await queue.put('poison');
      const attempts: number[] = [];
      let id: string | undefined;
      for (let crash = 0; crash < 3; crash++) {
        // A worker process that takes the task and dies with it (SIGKILL: no AMQP close).
        const child = fork(
          fileURLToPath(new URL('./fixtures/holder.mjs', import.meta.url)),
          [AMQP_URL, queueName, '1', 'consume'],
          { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
        );
        children.push(child);
        const [report] = (await Promise.race([
          once(child, 'message'),
          sleep(15_000).then(() => {
            throw new Error('the holder process did not report');
          }),
        ])) as [{ held: { id: string; body: string; attempt: number }[] }];
        expect(report.held.map((held) => held.body)).toEqual(['poison']);
        id ??= report.held[0]!.id;
        expect(report.held[0]!.id).toBe(id);
        attempts.push(report.held[0]!.attempt);
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
      const last = await queue.get({ timeoutMs: 10_000 });
      attempts.push(last.attempt);
      expect(last.id).toBe(id);
      await last.ack();
      expect(attempts).toEqual([1, 2, 3, 4]);
    } finally {
      for (const child of children)
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await connection.close();
    }
  }, 60_000);

  it('a message that is not valid msgpack is dead-lettered and the consumer keeps going', async () => {
    const queueName = name('poison');
    const connection = await transport.connect({ url: AMQP_URL });
    const raw = await amqp.connect(AMQP_URL);
    try {
      const queue = await connection.queue<string>(queueName);
      const channel = await raw.createConfirmChannel();
      channel.sendToQueue(queueName, Buffer.from([0xc1]), { persistent: true });
      await channel.waitForConfirms();
      await queue.put('good');
      const bodies: string[] = [];
      const handle = await queue.consume(async (delivery) => {
        bodies.push(delivery.body);
        await delivery.ack();
      });
      await until(() => bodies.length === 1, 5000, 'the good item');
      await handle.cancel();
      expect(bodies).toEqual(['good']);
      const dead = await connection.queue<unknown>(`${queueName}.dead`);
      await until(async () => (await dead.size()) === 1, 5000, 'the poison message in the dead-letter queue');
    } finally {
      await raw.close();
      await connection.close();
    }
  });

  // The one test that closes every connection on the shared broker.
  it('rabbitmqctl close_all_connections mid-stream: producer and consumer resume, nothing lost', async () => {
    const queueName = name('reconnect');
    const total = 3000;
    const producerConnection = await transport.connect({ url: AMQP_URL, reconnect: { initialDelayMs: 50 } });
    const consumerConnection = await transport.connect({ url: AMQP_URL, reconnect: { initialDelayMs: 50 } });
    try {
      const producer = await producerConnection.queue<number>(queueName);
      const consumer = await consumerConnection.queue<number>(queueName);
      const seen = new Set<number>();
      const handle = await consumer.consume(
        async (delivery) => {
          seen.add(delivery.body);
          await delivery.ack();
        },
        { prefetch: 50 },
      );
      // A bystander connection proves the broker really dropped everyone.
      const bystander = await amqp.connect(AMQP_URL);
      bystander.on('error', () => undefined);
      const bystanderClosed = once(bystander, 'close');
      const puts: Promise<void>[] = [];
      let dropped = false;
      for (let i = 0; i < total; i++) {
        puts.push(producer.put(i));
        if (i % 100 === 99) await sleep(5);
        if (i === total / 2) {
          await promisify(execFile)('rabbitmqctl', ['close_all_connections', 'taskwire resilience test']);
          dropped = true;
        }
      }
      expect(dropped).toBe(true);
      await bystanderClosed;
      await Promise.all(puts);
      await until(() => seen.size === total, 30_000, `all ${total} items (have ${seen.size})`);
      // Exactly one subscription after the reconnect, not one per reconnect attempt.
      const inspector = await amqp.connect(AMQP_URL);
      const channel = await inspector.createChannel();
      expect((await channel.checkQueue(queueName)).consumerCount).toBe(1);
      await inspector.close();
      await handle.cancel();
    } finally {
      await producerConnection.close();
      await consumerConnection.close();
    }
  }, 60_000);
});

import type { Delivery } from '@taskwire/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRabbitMQTransport } from '../src/index.js';
import { AMQP_URL, assertBroker, deleteQueues, queueNamer } from './broker.js';

// What the conformance kit does not see: items a move leaves behind keep their order and their attempt counts.

const transport = createRabbitMQTransport();
const { name, used } = queueNamer();

beforeAll(assertBroker);
afterAll(() => deleteQueues(used));

describe('rabbitmq moveItems', () => {
  it('items not moved keep their order and their attempts (no native requeue, which would count one more)', async () => {
    const from = name('keep-from');
    const to = name('keep-to');
    const connection = await transport.connect({ url: AMQP_URL });
    const admin = await transport.connect({ url: AMQP_URL });
    try {
      const source = await connection.queue<string>(from);
      await connection.queue<string>(to);
      await source.putMany(['a', 'b', 'c', 'd']);
      const taken: Delivery<string>[] = [];
      for (let i = 0; i < 4; i++) taken.push(await source.get({ timeoutMs: 5000 }));
      for (const delivery of taken) await delivery.nack({ requeue: true }); // one delivery each, counted
      expect(await admin.moveItems(from, to, { ids: [taken[1]!.id] })).toBe(1);
      const left: Delivery<string>[] = [];
      for (let i = 0; i < 3; i++) left.push(await source.get({ timeoutMs: 5000 }));
      expect(left.map((delivery) => delivery.body)).toEqual(['a', 'c', 'd']);
      expect(left.map((delivery) => delivery.attempt)).toEqual([2, 2, 2]);
      await Promise.all(left.map((delivery) => delivery.ack()));
    } finally {
      await admin.close();
      await connection.close();
    }
  });
});

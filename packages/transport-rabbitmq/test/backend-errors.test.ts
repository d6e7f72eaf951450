import { BackendError, type Connection, ErrorCodes } from '@taskwire/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRabbitMQTransport } from '../src/index.js';
import { AMQP_URL, assertBroker, deleteQueues, queueNamer } from './broker.js';

const names = queueNamer();
let connection: Connection;

beforeAll(async () => {
  await assertBroker();
  connection = await createRabbitMQTransport().connect({ url: AMQP_URL });
});
afterAll(async () => {
  await connection?.close();
  await deleteQueues(names.used);
});

describe('rabbitmq: an error of the broker itself reaches the caller as a BackendError', () => {
  it('keeps amqplib’s error as cause and the broker’s reply code, not retryable', async () => {
    const name = names.name('gone');
    const queue = await connection.queue<number>(name);
    const other = await connection.queue<number>(name);
    await other.delete(); // the queue is gone under the first handle

    const error = await queue.size().then(
      () => undefined,
      (rejection: unknown) => rejection,
    );
    expect(BackendError.isInstance(error)).toBe(true);
    const backend = error as BackendError;
    expect(backend.code).toBe(ErrorCodes.BACKEND);
    expect(backend.backendCode).toBe(404);
    expect(backend.retryable).toBe(false);
    expect(backend.message).toMatch(new RegExp(`^rabbitmq: size of "${name}" failed: .*NOT_FOUND`));
    expect(backend.cause).toBeInstanceOf(Error);
  });
});

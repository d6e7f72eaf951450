import { createCodec, type Delivery, ErrorCodes, FrameTooLargeError } from '@taskwire/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createTcpTransport, FRAME_OVERHEAD_BYTES, serve, type TcpConnection } from '../src/index.js';
import { waitFor } from './helpers.js';

// Issue 11 item 1: batches (puts, deliveries, acks) never exceed the frame limit, and the largest payload
// the limit allows passes in every direction, in process too.
const authkey = 'frame-limit-key';
const maxFrameBytes = 4096;
const largest = maxFrameBytes - FRAME_OVERHEAD_BYTES;
const clientErrors: Error[] = [];
const server = await serve({
  port: 0,
  authkey,
  maxFrameBytes,
  onClientError: (error) => clientErrors.push(error),
});
const transport = createTcpTransport();
const prefix = `frame-limit-${process.pid}-${Date.now()}`;
const codec = createCodec();
const opened: { close(): Promise<void> }[] = [];

afterAll(async () => {
  for (const connection of opened) await connection.close();
  await server.close();
});

async function connect(): Promise<TcpConnection> {
  const connection = (await transport.connect({
    url: server.url,
    authkey,
    reconnectMaxDelayMs: 100,
  })) as TcpConnection;
  opened.push(connection);
  return connection;
}

/** A string whose encoded payload is exactly `bytes` long. */
function itemOfSize(bytes: number, fill = 'x'): string {
  const item = fill.repeat(bytes - 3); // a str16 header: 3 bytes
  expect(codec.encode(item).length).toBe(bytes);
  return item;
}

/** Consume `count` items from `queue` (acking each), failing after 10 s. */
async function consumeAll<T>(
  queue: {
    consume(
      handler: (d: Delivery<T>) => Promise<void>,
      o: { prefetch: number },
    ): Promise<{ cancel(): Promise<void> }>;
  },
  count: number,
  prefetch: number,
): Promise<T[]> {
  const received: T[] = [];
  const consumer = await queue.consume(
    async (delivery) => {
      received.push(delivery.body);
      await delivery.ack();
    },
    { prefetch },
  );
  await waitFor(() => received.length >= count, 10_000, `${count} deliveries`);
  await consumer.cancel();
  return received;
}

describe('tcp frame limit (maxFrameBytes 4096)', () => {
  it('two concurrent 3,000-byte puts pass and a consumer receives both without reconnecting', async () => {
    const producer = await connect();
    const consumer = await connect();
    const name = `${prefix}.pair`;
    const queue = await producer.queue<string>(name);
    const a = itemOfSize(3000, 'a');
    const b = itemOfSize(3000, 'b');
    await Promise.all([queue.put(a), queue.put(b)]);
    const received = await consumeAll(await consumer.queue<string>(name), 2, 10);
    expect(received.sort()).toEqual([a, b]);
    expect(producer.epoch).toBe(1);
    expect(consumer.epoch).toBe(1);
  });

  it(`the largest payload (${largest} bytes) passes by put, putMany, get, consume and publish; one byte more is refused and the connection carries on`, async () => {
    const connection = await connect();
    const name = `${prefix}.boundary`;
    const queue = await connection.queue<string>(name);
    const fits = itemOfSize(largest);
    const tooBig = itemOfSize(largest + 1);

    const refused = await queue.put(tooBig).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(FrameTooLargeError);
    expect((refused as FrameTooLargeError).code).toBe(ErrorCodes.FRAME_TOO_LARGE);
    await expect(queue.putMany([fits, tooBig])).rejects.toBeInstanceOf(FrameTooLargeError);
    await expect(queue.put(tooBig, { priority: 0 })).rejects.toBeInstanceOf(FrameTooLargeError);
    await expect(connection.publish(`${name}.channel`, tooBig)).rejects.toBeInstanceOf(FrameTooLargeError);
    expect(await queue.size()).toBe(0);

    await queue.put(fits);
    const got = await queue.get({ timeoutMs: 5000 });
    expect(got.body).toBe(fits);
    await got.ack();

    await queue.putMany([fits, fits, fits]);
    await Promise.all([queue.put(fits), queue.put(fits), queue.put(fits, { priority: 0 })]);
    expect(await consumeAll(queue, 6, 100)).toEqual(Array(6).fill(fits));

    const heard: string[] = [];
    const subscription = await connection.subscribe<string>(`${name}.channel`, (message) => {
      heard.push(message);
    });
    await connection.publish(`${name}.channel`, fits);
    await waitFor(() => heard.length === 1, 5000, 'the broadcast');
    await subscription.unsubscribe();

    expect(connection.epoch).toBe(1);
  });

  it('thousands of acks and small puts made in one turn travel in frames within the limit', async () => {
    const connection = await connect();
    const name = `${prefix}.many`;
    const queue = await connection.queue<number>(name);
    const count = 3000;
    await Promise.all(Array.from({ length: count }, (_, i) => queue.put(i)));
    const received = await consumeAll(queue, count, count);
    expect(received.sort((x, y) => x - y)).toEqual(Array.from({ length: count }, (_, i) => i));
    await waitFor(() => server.engine.queue(name).size === 0, 5000, 'the queue to empty');
    expect(connection.epoch).toBe(1);
  });

  it('the in-process connection refuses what a remote worker could not receive, and delivers the rest', async () => {
    const local = await server.connect();
    opened.push(local);
    const worker = await connect();
    const name = `${prefix}.in-process`;
    const queue = await local.queue<string>(name);
    const fits = itemOfSize(largest);
    await expect(queue.put(itemOfSize(largest + 1))).rejects.toBeInstanceOf(FrameTooLargeError);
    await expect(local.publish(`${name}.channel`, itemOfSize(largest + 1))).rejects.toBeInstanceOf(
      FrameTooLargeError,
    );
    await queue.putMany([fits, fits, fits, fits, fits]);
    const received = await consumeAll(await worker.queue<string>(name), 5, 100);
    expect(received).toEqual(Array(5).fill(fits));
    expect(worker.epoch).toBe(1);
  });

  it('a peek reply stays within the limit: the largest payload alone, then as many items as fit', async () => {
    const connection = await connect();
    const name = `${prefix}.peek`;
    const queue = await connection.queue<string>(name);
    const fits = itemOfSize(largest);
    await queue.putMany([fits, fits]);
    const peeked = await connection.peek<string>(name, { limit: 10 });
    expect(peeked.map((item) => item.body)).toEqual([fits]);
    await queue.purge();
    await queue.putMany(['a', 'b', 'c']);
    expect((await connection.peek<string>(name)).map((item) => item.body)).toEqual(['a', 'b', 'c']);
    expect(connection.epoch).toBe(1);
  });

  it('no connection was closed for a protocol error', () => {
    expect(clientErrors).toEqual([]);
  });
});

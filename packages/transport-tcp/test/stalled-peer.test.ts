import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { QueueFullError } from '@taskwire/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createTcpTransport, type TcpConnection } from '../src/index.js';
import { Op } from '../src/protocol.js';
import { authenticatedPeer, frame, type RawPeer, waitFor } from './helpers.js';

// Issue 11 item 2: a client that consumes with a huge prefetch and never reads its socket. The server runs in a
// child process so its memory can be measured (defaults: 16 MiB output bound, prefetch cap 10,000).
const authkey = 'stalled-peer-key';
const stalledTimeoutMs = 5000;
const queueName = `stalled-${process.pid}-${Date.now()}`;
const channel = `${queueName}.notices`;
const MiB = 1024 * 1024;

type ServerMessage = { port?: number; clientError?: string; baseline?: number; peak?: number };
const child: ChildProcess = fork(
  fileURLToPath(new URL('./fixtures/stall-server.mjs', import.meta.url)),
  [JSON.stringify({ authkey, stalledTimeoutMs })],
  { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
);
const messages: ServerMessage[] = [];
child.on('message', (message) => messages.push(message as ServerMessage));

/** The next message from the server process that has `key`, after the `from`-th. */
async function nextMessage(key: keyof ServerMessage, from = 0, ms = 30_000): Promise<ServerMessage> {
  await waitFor(() => messages.slice(from).some((m) => m[key] !== undefined), ms, `the server's ${key}`);
  return messages.slice(from).find((m) => m[key] !== undefined)!;
}

async function ask(request: 'baseline' | 'report'): Promise<ServerMessage> {
  const from = messages.length;
  child.send(request);
  return nextMessage(request === 'baseline' ? 'baseline' : 'peak', from);
}

const port = (await nextMessage('port')).port!;
const url = `tcp://127.0.0.1:${port}`;
const transport = createTcpTransport();
const opened: TcpConnection[] = [];
let stalled: RawPeer | undefined;

afterAll(async () => {
  stalled?.socket.destroy();
  for (const connection of opened) await connection.close();
  child.send('close');
  await new Promise((resolve) => child.once('exit', resolve));
});

async function connect(): Promise<TcpConnection> {
  const connection = (await transport.connect({ url, authkey })) as TcpConnection;
  opened.push(connection);
  return connection;
}

/** The stalled client: declares `name`, consumes with a huge prefetch, subscribes, then never reads. */
async function stalledClient(name: string, maxsize: number): Promise<RawPeer> {
  const peer = await authenticatedPeer(port, authkey);
  peer.socket.write(
    Buffer.concat([
      frame([1, Op.DECLARE, 1, name, { maxsize }]),
      frame([2, Op.CONSUME, 1, 1, 1_000_000_000]),
      frame([3, Op.SUBSCRIBE, 1, channel]),
    ]),
  );
  await waitFor(() => peer.frames.length >= 5, 5000, 'the replies to declare, consume and subscribe');
  expect(peer.frames.slice(2).map((f) => f[1])).toEqual([0, 0, 0]);
  peer.socket.pause();
  return peer;
}

/**
 * Up to `puts` puts of `itemBytes` each (500 at a time, each waiting at most 1 s for room) and `broadcasts`
 * broadcasts to a stalled client, then: the server's memory growth, the stalled client dropped, and every
 * accepted item received by a healthy consumer.
 */
async function scenario(
  name: string,
  {
    itemBytes,
    maxsize,
    puts,
    broadcasts,
  }: { itemBytes: number; maxsize: number; puts: number; broadcasts: number },
): Promise<void> {
  const from = messages.length;
  stalled = await stalledClient(name, maxsize);
  const { baseline } = await ask('baseline');

  const producer = await connect();
  const queue = await producer.queue<{ n: number; pad: string }>(name, { maxsize });
  const pad = 'x'.repeat(itemBytes);
  const accepted = new Set<number>();
  let refused = 0;
  for (let start = 0; start < puts && refused === 0; start += 500) {
    const outcomes = await Promise.allSettled(
      Array.from({ length: 500 }, (_, i) =>
        queue.put({ n: start + i, pad }, { timeoutMs: 1000 }).then(() => accepted.add(start + i)),
      ),
    );
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') {
        expect(outcome.reason).toBeInstanceOf(QueueFullError);
        refused++;
      }
    }
  }
  await Promise.all(Array.from({ length: broadcasts }, () => producer.publish(channel, pad)));
  const { peak } = await ask('report');
  const growthMiB = (peak! - baseline!) / MiB;
  console.log(
    `${itemBytes}-byte items: server RSS growth ${growthMiB.toFixed(1)} MiB; puts accepted ${accepted.size}, refused ${refused}`,
  );
  expect(growthMiB).toBeLessThan(100);
  // What the stalled client holds is bounded: the queue filled and puts were refused.
  expect(refused).toBeGreaterThan(0);

  // Dropped after the deadline...
  const dropped = await nextMessage('clientError', from, stalledTimeoutMs + 25_000);
  expect(dropped.clientError).toMatch(/dropped: over \d+ bytes unsent/);
  // ...and every accepted item reaches a healthy consumer: nothing lost.
  const consumer = await connect();
  const received = new Set<number>();
  const handle = await (await consumer.queue<{ n: number }>(name, { maxsize })).consume(
    async (delivery) => {
      received.add(delivery.body.n);
      await delivery.ack();
    },
    { prefetch: 1000 },
  );
  await waitFor(
    () => received.size >= accepted.size,
    30_000,
    `${accepted.size} items at the healthy consumer`,
  );
  await handle.cancel();
  expect([...received].sort((a, b) => a - b)).toEqual([...accepted].sort((a, b) => a - b));
  expect(await queue.size()).toBe(0);
}

describe('tcp: a client that consumes with a huge prefetch and stops reading', () => {
  it('2 KB items: under 100 MB, dropped after the deadline, nothing lost', async () => {
    await scenario(`${queueName}.small`, { itemBytes: 2000, maxsize: 1000, puts: 100_000, broadcasts: 5000 });
  }, 180_000);

  it('64 KiB items: under 100 MB, dropped after the deadline, nothing lost', async () => {
    // The queue's own 100 items of 64 KiB are 6.4 MiB; everything else is what the stalled client costs.
    await scenario(`${queueName}.large`, { itemBytes: 64 * 1024, maxsize: 100, puts: 5000, broadcasts: 0 });
  }, 180_000);
});

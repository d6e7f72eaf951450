import { afterAll, describe, expect, it } from 'vitest';
import { createTcpTransport, serve } from '../src/index.js';
import { Op, Push } from '../src/protocol.js';
import { authenticatedPeer, frame, waitFor } from './helpers.js';

// A client that reads slowly but keeps reading (about 3 MB/s) is held at the output bound (1 MiB) and never
// dropped as stalled (3 s), though all it is sent (300 × 64 KiB, 19 MiB) takes several times that.
const authkey = 'slow-reader-key';
const clientErrors: string[] = [];
const server = await serve({
  port: 0,
  authkey,
  maxOutputBytes: 1024 * 1024,
  stalledTimeoutMs: 3000,
  onClientError: (error) => clientErrors.push(error.message),
});
const name = `slow-reader-${process.pid}-${Date.now()}`;
afterAll(() => server.close());

describe('tcp: a slow reader', () => {
  it('is held at the output bound and gets everything, however long a full drain takes', async () => {
    const peer = await authenticatedPeer(server.address.port, authkey);
    peer.socket.write(
      Buffer.concat([frame([1, Op.DECLARE, 1, name, {}]), frame([2, Op.CONSUME, 1, 1, 1000])]),
    );
    await waitFor(() => peer.frames.length >= 4, 5000, 'the replies to declare and consume');
    // From now on: one chunk, then 20 ms of not reading (about 3 MB/s at most).
    peer.socket.on('data', () => {
      peer.socket.pause();
      setTimeout(() => peer.socket.resume(), 20);
    });

    const producer = await createTcpTransport().connect({ url: server.url, authkey });
    const queue = await producer.queue<string>(name);
    const count = 300;
    const item = 'x'.repeat(64 * 1024);
    await queue.putMany(Array(count).fill(item));

    const delivered = () =>
      peer.frames
        .filter((f) => f[0] === 0 && f[1] === Push.DELIVER)
        .reduce((sum, f) => sum + (f[3] as unknown[]).length, 0);
    await waitFor(() => delivered() === count, 60_000, `${count} deliveries at the slow reader`);
    expect(clientErrors).toEqual([]);
    expect(peer.isClosed()).toBe(false);
    peer.socket.destroy();
    await producer.close();
  }, 90_000);
});

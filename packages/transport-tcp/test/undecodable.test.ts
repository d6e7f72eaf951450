import type { Delivery } from '@taskwire/core';
import { storePayload } from '@taskwire/core/engine';
import { afterAll, describe, expect, it } from 'vitest';
import { createTcpTransport, serve } from '../src/index.js';
import { Op } from '../src/protocol.js';
import { authenticatedPeer, frame, waitFor } from './helpers.js';

const authkey = 'undecodable-test-key';
const server = await serve({ port: 0, authkey });
const port = server.address.port;
afterAll(() => server.close());

describe('a payload that is not valid msgpack', () => {
  it('is dead-lettered and the consumer keeps going', async () => {
    // Bytes a producer could have written by hand, stored straight into the hosted queue.
    const garbage = [
      Buffer.from([0xc1]),
      Buffer.from([0x92, 0x01]),
      Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]),
    ];
    const engineQueue = server.engine.declare('jobs', { deadLetter: 'jobs.dead' });
    engineQueue.tryPut(storePayload(garbage[0]!));
    const connection = await createTcpTransport().connect({ url: server.url, authkey });
    try {
      const queue = await connection.queue<number>('jobs', { deadLetter: 'jobs.dead' });
      await queue.put(1);
      engineQueue.tryPut(storePayload(garbage[1]!));
      await queue.put(2);
      engineQueue.tryPut(storePayload(garbage[2]!));
      await queue.put(3);

      const received: Delivery<number>[] = [];
      await queue.consume(async (delivery) => {
        received.push(delivery);
        await delivery.ack();
      });
      await waitFor(() => received.length === 3, 5000, 'the three good items');
      expect(received.map((d) => d.body)).toEqual([1, 2, 3]);
      await waitFor(() => server.engine.queue('jobs.dead').size === 3, 5000, 'three dead-lettered items');
      expect(server.engine.queue('jobs').size).toBe(0);
    } finally {
      await connection.close();
    }
  });

  it('goes to <queue>.dead when the queue has no dead-letter queue, also for get()', async () => {
    const engineQueue = server.engine.declare('plain');
    engineQueue.tryPut(storePayload(Buffer.from([0xc1])));
    const connection = await createTcpTransport().connect({ url: server.url, authkey });
    try {
      const queue = await connection.queue<string>('plain');
      await queue.put('good');
      const delivery = await queue.get({ timeoutMs: 5000 });
      expect(delivery.body).toBe('good');
      await delivery.ack();
      expect(server.engine.queue('plain.dead').size).toBe(1);
    } finally {
      await connection.close();
    }
  });

  it('hostile bytes put over the wire (a self-containing array, deep nesting) are dead-lettered, not decoded', async () => {
    const hostile = [
      Buffer.from('d66900000000' + '91' + 'd67000000000', 'hex'),
      Buffer.concat([Buffer.alloc(100_000, 0x91), Buffer.from([0x01])]),
      Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01, 0x01, 0x01, 0x01]),
    ];
    const name = 'eng-hostile';
    const peer = await authenticatedPeer(port, authkey);
    peer.socket.write(frame([1, Op.DECLARE, 1, name, null]));
    for (const [i, bytes] of hostile.entries()) peer.socket.write(frame([2 + i, Op.PUT, 1, bytes]));
    await waitFor(() => peer.frames.length >= 2 + 1 + hostile.length, 2000, 'the put replies');
    peer.socket.destroy();
    const connection = await createTcpTransport().connect({ url: server.url, authkey });
    try {
      const queue = await connection.queue<unknown>(name);
      await queue.put('good');
      const delivery = await queue.get({ timeoutMs: 5000 });
      expect(delivery.body).toBe('good');
      await delivery.ack();
      expect(server.engine.queue(`${name}.dead`).size).toBe(hostile.length);
      expect(server.engine.queue(name).size).toBe(0);
    } finally {
      await connection.close();
    }
  });
});

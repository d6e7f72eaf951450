import { randomBytes } from 'node:crypto';
import { DecodeError, ErrorCodes, FrameTooLargeError } from '@taskwire/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createTcpTransport, serve } from '../src/index.js';
import { Op, Push } from '../src/protocol.js';
import { authenticatedPeer, frame, type RawPeer, rawPeer, waitFor } from './helpers.js';

const authkey = 'bad-input-key';
const clientErrors: Error[] = [];
const server = await serve({
  port: 0,
  authkey,
  maxFrameBytes: 1024 * 1024,
  onClientError: (error) => clientErrors.push(error),
});
const port = server.address.port;

// A well-behaved client keeps working through every case below.
const good = await createTcpTransport().connect({ url: server.url, authkey });
const goodQueue = await good.queue<number>('bad-input.good');
afterAll(async () => {
  await good.close();
  await server.close();
});

async function goodClientStillWorks(): Promise<void> {
  const n = Math.floor(Math.random() * 1000);
  await goodQueue.put(n);
  const delivery = await goodQueue.get({ timeoutMs: 2000 });
  expect(delivery.body).toBe(n);
  await delivery.ack();
}

async function expectClosed(peer: RawPeer, what: string): Promise<void> {
  await Promise.race([
    peer.closed,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: socket not closed`)), 3000)),
  ]);
}

/** The FATAL push the server sent before closing, if any. */
function fatalOf(peer: RawPeer): unknown[] | undefined {
  return peer.frames.find((f) => f[0] === 0 && f[1] === Push.FATAL);
}

describe('tcp bad input closes only the offending connection', () => {
  it('random bytes before the handshake', async () => {
    const peer = await rawPeer(port);
    peer.socket.write(randomBytes(4096));
    await expectClosed(peer, 'random bytes');
    await goodClientStillWorks();
  });

  it('an oversized length prefix before the handshake (the 1 KiB pre-auth limit)', async () => {
    const peer = await rawPeer(port);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(2000);
    peer.socket.write(header);
    await expectClosed(peer, 'pre-auth oversized');
    await goodClientStillWorks();
  });

  it('a frame over maxFrameBytes after auth: FrameTooLargeError, then closed', async () => {
    const peer = await authenticatedPeer(port, authkey);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(0xfffffff0);
    peer.socket.write(header);
    await expectClosed(peer, 'oversized');
    expect(fatalOf(peer)?.[2]).toBe(ErrorCodes.FRAME_TOO_LARGE);
    expect(clientErrors.some((e) => FrameTooLargeError.isInstance(e))).toBe(true);
    await goodClientStillWorks();
  });

  it('random bytes after auth', async () => {
    const peer = await authenticatedPeer(port, authkey);
    const garbage = randomBytes(512);
    garbage.writeUInt32BE(508, 0); // a plausible length so the body reaches the decoder
    peer.socket.write(garbage);
    await expectClosed(peer, 'garbage after auth');
    expect(fatalOf(peer)?.[2]).toBe(ErrorCodes.DECODE);
    await goodClientStillWorks();
  });

  it('a truncated frame followed by the end of the stream', async () => {
    const peer = await authenticatedPeer(port, authkey);
    const whole = frame([1, Op.SIZE, 1]);
    peer.socket.end(whole.subarray(0, whole.length - 2));
    await expectClosed(peer, 'truncated');
    await goodClientStillWorks();
    await waitFor(() => server.connectionCount === 1, 2000, 'only the good client to remain');
  });

  it('an unknown op', async () => {
    const peer = await authenticatedPeer(port, authkey);
    peer.socket.write(frame([1, 99]));
    await expectClosed(peer, 'unknown op');
    expect(fatalOf(peer)?.[3]).toMatch(/unknown op 99/);
    await goodClientStillWorks();
  });

  it('msgpack bombs: a huge declared array, deep nesting, too many values, an extension', async () => {
    const array32 = Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0x01]); // "4 billion elements"
    const deep = Buffer.alloc(200, 0x91); // [[[[…]]]]
    const many = Buffer.concat([Buffer.from([0xdd, 0x00, 0x01, 0x86, 0xa0]), Buffer.alloc(100_000, 0x90)]);
    const ext = Buffer.from([0x92, 0x01, 0xd4, 0x00, 0x00]);
    for (const body of [array32, deep, many, ext]) {
      const peer = await authenticatedPeer(port, authkey);
      const header = Buffer.alloc(4);
      header.writeUInt32BE(body.length);
      const rssBefore = process.memoryUsage().rss;
      const started = Date.now();
      peer.socket.write(Buffer.concat([header, body]));
      await expectClosed(peer, 'bomb');
      expect(Date.now() - started).toBeLessThan(1000);
      expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 1024 * 1024);
      expect(fatalOf(peer)?.[2]).toBe(ErrorCodes.DECODE);
    }
    expect(clientErrors.filter((e) => DecodeError.isInstance(e)).length).toBeGreaterThanOrEqual(4);
    await goodClientStillWorks();
  });

  it('a duration out of range on the wire gets a RangeError reply and changes nothing', async () => {
    const peer = await authenticatedPeer(port, authkey);
    const name = `eng-durations-${randomBytes(4).toString('hex')}`;
    const requests: unknown[][] = [
      [1, Op.DECLARE, 1, `${name}.vt`, { visibilityTimeoutMs: -1 }],
      [2, Op.DECLARE, 2, name, null],
      [3, Op.PUT, 2, Buffer.from([0x01]), null, Number.NaN, null],
      [4, Op.PUT, 2, Buffer.from([0x01]), null, 1e300, null],
      [5, Op.PUT, 2, Buffer.from([0x01]), null, null, Number.POSITIVE_INFINITY],
      [6, Op.GET, 2, -5],
      [7, Op.GET, 2, 2 ** 53],
      [8, Op.PUT, 2, Buffer.from([0x01])],
      [9, Op.GET, 2, 1000],
    ];
    for (const request of requests) peer.socket.write(frame(request));
    // Replies to 1–9 (the GET of 9 answers with the item put by 8) after HELLO and the auth reply.
    await waitFor(() => peer.frames.length >= 11, 2000, 'the replies');
    const replies = new Map(peer.frames.slice(2).map((reply) => [reply[0] as number, reply]));
    for (const id of [1, 3, 4, 5, 6, 7]) {
      expect(replies.get(id)!.slice(1, 3), `reply to request ${id}`).toEqual([1, 'RangeError']);
      expect(replies.get(id)![3]).toMatch(/delayMs|timeoutMs|visibilityTimeoutMs/);
    }
    const tag = (replies.get(9)![2] as unknown[])[0];
    peer.socket.write(frame([10, Op.NACK, 2, tag, true, -1, false]));
    peer.socket.write(frame([11, Op.SIZE, 2]));
    await waitFor(() => peer.frames.length >= 13, 2000, 'the nack and size replies');
    const nackReply = peer.frames.find((reply) => reply[0] === 10)!;
    expect(nackReply.slice(1, 3)).toEqual([1, 'RangeError']);
    // The refused nack left the delivery held, and nothing else was stored.
    expect(peer.frames.find((reply) => reply[0] === 11)!.slice(1)).toEqual([0, 0]);
    expect(peer.isClosed()).toBe(false);
    peer.socket.destroy();
    await goodClientStillWorks();
  });

  it('a bad argument type is a protocol error, a bad option value is an ordinary error reply', async () => {
    const peer = await authenticatedPeer(port, authkey);
    peer.socket.write(frame([1, Op.DECLARE, 1, 'bad-input.opts', { order: 'sideways' }]));
    await waitFor(() => peer.frames.length >= 3, 2000, 'the error reply');
    expect(peer.frames[2]!.slice(0, 3)).toEqual([1, 1, 'TypeError']);
    expect(peer.isClosed()).toBe(false);
    peer.socket.write(frame([2, Op.SIZE, 'not-a-handle']));
    await expectClosed(peer, 'bad argument');
    await goodClientStillWorks();
  });
});

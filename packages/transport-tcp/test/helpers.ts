import { connect, type Socket } from 'node:net';
import { computeProof, createNonce } from '../src/auth.js';
import { FrameReader } from '../src/frame-reader.js';
import { decodeFrame } from '../src/protocol.js';
import { FrameEncoder } from '../src/wire.js';

/** A length-prefixed frame. */
export function frame(message: unknown[]): Buffer {
  const encoder = new FrameEncoder();
  encoder.frame(message);
  return encoder.take();
}

/** A raw socket to the server plus every frame it has received (decoded) and whether it closed. */
export interface RawPeer {
  readonly socket: Socket;
  readonly frames: unknown[][];
  readonly closed: Promise<void>;
  isClosed(): boolean;
}

/** Open a raw socket that records decoded frames (max 64 MiB) and its closing. */
export async function rawPeer(port: number): Promise<RawPeer> {
  const socket = connect({ host: '127.0.0.1', port });
  const frames: unknown[][] = [];
  const reader = new FrameReader(64 * 1024 * 1024);
  let closed = false;
  socket.on('data', (chunk: Buffer) => reader.push(chunk, (body) => frames.push(decodeFrame(body))));
  socket.on('error', () => undefined);
  const closedPromise = new Promise<void>((resolve) =>
    socket.once('close', () => {
      closed = true;
      resolve();
    }),
  );
  await new Promise((resolve) => socket.once('connect', resolve));
  return { socket, frames, closed: closedPromise, isClosed: () => closed };
}

/** Wait until `condition()` holds, polling every 10 ms, failing after `ms`. */
export async function waitFor(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A raw peer that has completed the handshake with `key`. */
export async function authenticatedPeer(port: number, key: string): Promise<RawPeer> {
  const peer = await rawPeer(port);
  await waitFor(() => peer.frames.length >= 1, 2000, 'the server hello');
  const serverNonce = peer.frames[0]![2] as Uint8Array;
  const nonce = createNonce();
  peer.socket.write(frame([nonce, computeProof(Buffer.from(key), 'client', serverNonce, nonce)]));
  await waitFor(() => peer.frames.length >= 2, 2000, 'the handshake result');
  if (peer.frames[1]![0] !== true) throw new Error('handshake refused');
  return peer;
}

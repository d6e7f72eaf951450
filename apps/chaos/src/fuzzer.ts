// Hostile frames at the TCP manager, generated with fast-check: raw junk, lying length headers and
// random msgpack before authentication; random requests (`[id, op, ...args]` with any values) after
// a real handshake. The protocol (4-byte big-endian length, one msgpack array, HMAC handshake) is
// spoken here from its description in @taskwire/transport-tcp's protocol module, as a stranger would.
import { createHmac, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import { Packr } from 'msgpackr';

const packr = new Packr({ useRecords: false });
const CLIENT_PROOF_LABEL = Buffer.from('taskwire/1 client proof\0');
/** Frames generated (and written) per batch. */
const BATCH = 256;
/** Frames an unauthenticated connection sends before it hangs up (the server usually closes first). */
const FRAMES_PER_STRANGER = 32;
/** Out of every 10 batches, this many go over authenticated connections. */
const AUTHENTICATED_SHARE = 8;

function framed(body: Uint8Array): Buffer {
  const header = Buffer.allocUnsafe(4);
  header.writeUInt32BE(body.length, 0);
  return Buffer.concat([header, body]);
}

/** Pack `value` into a frame; undefined for the odd value msgpackr refuses. */
function frameOf(value: unknown): Buffer | undefined {
  try {
    return framed(packr.pack(value));
  } catch {
    return undefined;
  }
}

// msgpack has 64-bit integers: bigger bigints are refused by the encoder, not sent.
const anyValue = fc.oneof(
  { weight: 9, arbitrary: fc.anything({ maxDepth: 2, maxKeys: 4, withTypedArray: true }) },
  { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }) },
);

/** Before authentication: junk bytes, a header announcing more than ever comes, random msgpack. */
const strangerFrame: fc.Arbitrary<Buffer | undefined> = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
  fc
    .tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.uint8Array({ maxLength: 16 }))
    .map(([length, body]) => {
      const header = Buffer.allocUnsafe(4);
      header.writeUInt32BE(length, 0);
      return Buffer.concat([header, body]);
    }),
  anyValue.map(frameOf),
);

/** After authentication: requests with ids, ops (known and not) and arguments of any shape. */
const requestFrame: fc.Arbitrary<Buffer | undefined> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(
        fc.oneof(fc.integer({ min: -2, max: 2 ** 32 }), anyValue),
        fc.integer({ min: -1, max: 20 }),
        fc.array(anyValue, { maxLength: 6 }),
      )
      .map(([id, op, args]) => frameOf([id, op, ...args])),
  },
  { weight: 1, arbitrary: anyValue.map(frameOf) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => framed(bytes)) },
);

/** Reads length-prefixed frames off a socket (only the handshake needs them). */
function nextFrame(socket: Socket, buffered: { bytes: Buffer }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tryTake = () => {
      if (buffered.bytes.length < 4) return false;
      const length = buffered.bytes.readUInt32BE(0);
      if (buffered.bytes.length < 4 + length) return false;
      const body = buffered.bytes.subarray(4, 4 + length);
      buffered.bytes = buffered.bytes.subarray(4 + length);
      cleanup();
      resolve(body);
      return true;
    };
    const onData = (chunk: Buffer) => {
      buffered.bytes = Buffer.concat([buffered.bytes, chunk]);
      tryTake();
    };
    const onEnd = () => {
      cleanup();
      reject(new Error('the manager closed the connection during the handshake'));
    };
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('close', onEnd);
      socket.off('error', onEnd);
    };
    socket.on('data', onData);
    socket.once('close', onEnd);
    socket.once('error', onEnd);
    tryTake();
  });
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => undefined);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Connect and authenticate as an honest client would; rejects when the manager refuses. */
async function authenticated(port: number, authkey: string): Promise<Socket> {
  const socket = await open(port);
  try {
    const buffered = { bytes: Buffer.alloc(0) };
    const hello = packr.unpack(await nextFrame(socket, buffered)) as [string, number, Uint8Array, number];
    const clientNonce = randomBytes(32);
    const proof = createHmac('sha256', authkey)
      .update(CLIENT_PROOF_LABEL)
      .update(hello[2])
      .update(clientNonce)
      .digest();
    socket.write(framed(packr.pack([clientNonce, proof])));
    const answer = packr.unpack(await nextFrame(socket, buffered)) as [boolean];
    if (answer[0] !== true) throw new Error('the manager refused the authkey');
    socket.resume(); // replies and pushes are read and dropped
    return socket;
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

/** Write `frames` to `socket`; resolves false when the socket is gone. */
function send(socket: Socket, frames: Buffer[]): Promise<boolean> {
  if (socket.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const flushed = socket.write(Buffer.concat(frames));
    if (flushed) return resolve(true);
    const settle = (alive: boolean) => {
      socket.off('drain', onDrain);
      socket.off('close', onClose);
      resolve(alive);
    };
    const onDrain = () => settle(true);
    const onClose = () => settle(false);
    socket.once('drain', onDrain);
    socket.once('close', onClose);
  });
}

/** Handshake attempts before the manager counts as not answering. */
const HANDSHAKE_ATTEMPTS = 5;

/**
 * {@link authenticated}, tried again after a pause when it fails: a manager may turn a handshake away
 * while it is busy (its handshake deadline passes on a loaded machine); one that never lets an honest
 * client in is the failure.
 */
async function authenticatedWithRetries(port: number, authkey: string, report: FuzzReport): Promise<Socket> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await authenticated(port, authkey);
    } catch (error) {
      report.refusedHandshakes++;
      if (attempt >= HANDSHAKE_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}

export interface FuzzReport {
  /** Frames written (the manager may close a connection before reading them all). */
  frames: number;
  authenticatedFrames: number;
  connections: number;
  /** Honest handshakes that failed (each is tried again, {@link HANDSHAKE_ATTEMPTS} times in all). */
  refusedHandshakes: number;
  /** A fresh client still completed a handshake after the last frame. */
  managerAnswers: boolean;
  seed: number;
}

/** Send `frames` hostile frames at the manager on `port`; `onProgress` hears the share sent after each batch. */
export async function fuzzManager(options: {
  port: number;
  authkey: string;
  frames: number;
  onProgress?: (sent: number) => void;
  seed?: number;
}): Promise<FuzzReport> {
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const report: FuzzReport = {
    frames: 0,
    authenticatedFrames: 0,
    connections: 0,
    refusedHandshakes: 0,
    managerAnswers: false,
    seed,
  };
  let member: Socket | undefined;
  for (let batch = 0; report.frames < options.frames; batch++) {
    const count = Math.min(BATCH, options.frames - report.frames);
    const asMember = batch % 10 < AUTHENTICATED_SHARE;
    const generated = fc.sample(asMember ? requestFrame : strangerFrame, {
      numRuns: count,
      seed: seed + batch,
    });
    const frames = generated.filter((frame): frame is Buffer => frame !== undefined);
    if (asMember) {
      if (!member || member.destroyed) {
        member = await authenticatedWithRetries(options.port, options.authkey, report);
        report.connections++;
      }
      await send(member, frames);
      report.authenticatedFrames += frames.length;
    } else {
      for (let start = 0; start < frames.length; start += FRAMES_PER_STRANGER) {
        const stranger = await open(options.port);
        report.connections++;
        stranger.resume();
        await send(stranger, frames.slice(start, start + FRAMES_PER_STRANGER));
        stranger.destroy();
      }
    }
    report.frames += frames.length;
    options.onProgress?.(report.frames / options.frames);
  }
  member?.destroy();
  report.managerAnswers = await authenticatedWithRetries(options.port, options.authkey, report).then(
    (socket) => {
      socket.destroy();
      return true;
    },
    () => false,
  );
  return report;
}

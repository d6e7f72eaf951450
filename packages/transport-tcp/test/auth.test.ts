import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthError, ConfigError, ConnectionClosedError } from '@taskwire/core';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveAuthkey } from '../src/auth.js';
import { createTcpTransport, serve } from '../src/index.js';
import { decodeFrame } from '../src/protocol.js';
import { frame, rawPeer, waitFor } from './helpers.js';

const authkey = 'the-right-key';
const errors: Error[] = [];
const server = await serve({
  port: 0,
  authkey,
  handshakeTimeoutMs: 300,
  onClientError: (error) => errors.push(error),
});
afterAll(() => server.close());
const transport = createTcpTransport();

describe('tcp authentication', () => {
  let savedEnv: string | undefined;
  beforeEach(() => {
    savedEnv = process.env.TASKWIRE_AUTHKEY;
    delete process.env.TASKWIRE_AUTHKEY;
  });
  afterEach(() => {
    if (savedEnv === undefined) delete process.env.TASKWIRE_AUTHKEY;
    else process.env.TASKWIRE_AUTHKEY = savedEnv;
  });

  it('the right key connects and works', async () => {
    const connection = await transport.connect({ url: server.url, authkey });
    const queue = await connection.queue<string>('auth.ok');
    await queue.put('hi');
    expect((await queue.get({ timeoutMs: 1000 })).body).toBe('hi');
    await connection.close();
  });

  it('a wrong key is an AuthError naming the URL, and the server closes that socket', async () => {
    const started = Date.now();
    const error = await transport
      .connect({ url: server.url, authkey: 'wrong', reconnect: true })
      .catch((e) => e);
    expect(AuthError.isInstance(error)).toBe(true);
    expect(error.message).toBe(`authkey rejected by ${server.url}`);
    expect(Date.now() - started).toBeLessThan(1000);
    await waitFor(
      () => errors.some((e) => AuthError.isInstance(e) && /wrong authkey/.test(e.message)),
      2000,
      'the server to report it',
    );
  });

  it('no key at all is a ConfigError saying how to pass one', async () => {
    const error = await transport.connect({ url: server.url }).catch((e) => e);
    expect(ConfigError.isInstance(error)).toBe(true);
    expect(error.message).toMatch(/authkey.*TASKWIRE_AUTHKEY.*authkeyFile/);
  });

  it('a peer that never answers the challenge is closed after the handshake timeout', async () => {
    const peer = await rawPeer(server.address.port);
    const started = Date.now();
    await Promise.race([
      peer.closed,
      new Promise((_, reject) => setTimeout(() => reject(new Error('not closed')), 3000)),
    ]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(peer.frames).toHaveLength(1); // only the hello
  });

  it('a peer answering with a bogus proof is refused and closed', async () => {
    const peer = await rawPeer(server.address.port);
    await waitFor(() => peer.frames.length === 1, 2000, 'the hello');
    peer.socket.write(frame([Buffer.alloc(32, 1), Buffer.alloc(32, 2)]));
    await peer.closed;
    expect(peer.frames[1]).toEqual([false]);
  });

  it('the key never crosses the wire', async () => {
    // A fake server that speaks the hello and records what the client sends back.
    const received: Buffer[] = [];
    const fake = createServer((socket) => {
      socket.on('data', (chunk) => received.push(chunk));
      socket.on('error', () => undefined);
      socket.write(frame(['taskwire', 1, Buffer.alloc(32, 7), 1024]));
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    const { port } = fake.address() as { port: number };
    const attempt = transport
      .connect({ url: `tcp://127.0.0.1:${port}`, authkey, connectTimeoutMs: 300 })
      .catch((e) => e);
    await waitFor(() => received.length > 0, 2000, 'the client proof');
    expect(ConnectionClosedError.isInstance(await attempt)).toBe(true);
    fake.close();
    const sent = Buffer.concat(received);
    expect(sent.includes(Buffer.from(authkey))).toBe(false);
    const [nonce, proof] = decodeFrame(sent.subarray(4));
    expect((nonce as Uint8Array).length).toBe(32);
    expect((proof as Uint8Array).length).toBe(32);
  });

  it('a server that cannot prove the key is refused by the client', async () => {
    const fake = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.write(frame(['taskwire', 1, Buffer.alloc(32, 7), 1024]));
      socket.once('data', () => socket.write(frame([true, Buffer.alloc(32, 9)])));
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    const { port } = fake.address() as { port: number };
    const error = await transport.connect({ url: `tcp://127.0.0.1:${port}`, authkey }).catch((e) => e);
    fake.close();
    expect(AuthError.isInstance(error)).toBe(true);
    expect(error.message).toMatch(/could not prove/);
  });

  it('connection refused rejects connect() with the URL in the message', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as { port: number };
    await new Promise((resolve) => probe.close(resolve));
    const error = await transport.connect({ url: `tcp://127.0.0.1:${port}`, authkey }).catch((e) => e);
    expect(ConnectionClosedError.isInstance(error)).toBe(true);
    expect(error.message).toBe(`cannot connect to tcp://127.0.0.1:${port}: ECONNREFUSED`);
  });

  it('authkey precedence: option > TASKWIRE_AUTHKEY > key file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'taskwire-key-'));
    try {
      const file = join(dir, 'key');
      writeFileSync(file, 'from-file\n');
      expect(resolveAuthkey({ authkeyFile: file }, {}).toString()).toBe('from-file');
      expect(resolveAuthkey({ authkeyFile: file }, { TASKWIRE_AUTHKEY: 'from-env' }).toString()).toBe(
        'from-env',
      );
      expect(
        resolveAuthkey({ authkey: 'opt', authkeyFile: file }, { TASKWIRE_AUTHKEY: 'env' }).toString(),
      ).toBe('opt');
      expect(() => resolveAuthkey({ authkeyFile: join(dir, 'missing') }, {})).toThrow(
        /cannot read the authkey file/,
      );
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

import { connect as connectSocket, createServer, type Server, type Socket } from 'node:net';
import { AuthError, ConfigError, type Connection, TaskwireError } from '@taskwire/core';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameReader } from '../src/frame-reader.js';
import { createTcpTransport, serve, type TcpServer } from '../src/index.js';
import { waitFor } from './helpers.js';

const authkey = 'reconnect-key';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function started(options: Parameters<typeof serve>[0] = {}): Promise<TcpServer> {
  const server = await serve({ port: 0, authkey, ...options });
  cleanups.push(() => server.close());
  return server;
}

async function connected(url: string, options: Record<string, unknown> = {}): Promise<Connection> {
  const connection = await createTcpTransport({ authkey }).connect({ url, ...options });
  cleanups.push(() => connection.close());
  return connection;
}

/** The next `error` event of `connection`, or a rejection after `ms`. */
function nextError(connection: Connection, ms: number): Promise<Error> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no error event within ${ms} ms`)), ms);
    connection.on('error', (error) => {
      clearTimeout(timer);
      resolve(error);
    });
  });
}

/**
 * A relay in front of `port`. Once armed, it drops every link, and lets each new one complete the handshake
 * (the server's hello and its verdict: two frames) before dropping it too, as a server that fails right after
 * accepting a client would. Counts the links.
 */
async function dropAfterHandshake(port: number) {
  let links = 0;
  let armed = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    links++;
    const backend = connectSocket({ host: '127.0.0.1', port });
    const reader = new FrameReader(1 << 20);
    let frames = 0;
    for (const socket of [client, backend]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        client.destroy();
        backend.destroy();
        sockets.delete(socket);
      });
    }
    client.pipe(backend);
    backend.on('data', (chunk: Buffer) => {
      client.write(chunk);
      reader.push(chunk, () => {
        // Let the client read the verdict, then drop the link.
        if (++frames === 2 && armed) setTimeout(() => client.end(() => backend.destroy()), 20);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(resolve);
      }),
  );
  return {
    port: (server.address() as { port: number }).port,
    links: () => links,
    arm: () => {
      armed = true;
      for (const socket of sockets) socket.destroy();
    },
  };
}

describe('tcp client reconnects', () => {
  it('backs off when every connection drops right after the handshake (no reconnect storm)', async () => {
    const server = await started();
    const relay = await dropAfterHandshake(server.address.port);
    const connection = await connected(`tcp://127.0.0.1:${relay.port}`);
    const queue = await connection.queue('reconnect.storm');
    await queue.consume(async (delivery) => delivery.ack());
    relay.arm();
    // The backoff (100 ms doubling, each delay half to all of its step) allows at most 6 reconnects in 3 s:
    // 50 + 100 + 200 + 400 + 800 + 1600 ms at the shortest. Resetting it after each handshake would be ~30.
    await waitFor(() => relay.links() >= 2, 10_000, 'a first reconnect');
    const before = relay.links();
    await sleep(3000);
    const reconnects = relay.links() - before;
    expect(reconnects).toBeGreaterThanOrEqual(1);
    expect(reconnects).toBeLessThanOrEqual(7);
  });

  it('a queue the server refuses to declare again fails the connection once, with the typed error', async () => {
    const first = await serve({ port: 0, authkey });
    const { port } = first.address;
    const url = `tcp://127.0.0.1:${port}`;
    const connection = await connected(url);
    const queue = await connection.queue<number>('reconnect.restore', { maxsize: 10 });
    await queue.consume(async (delivery) => delivery.ack());
    const failed = nextError(connection, 15_000);
    await first.close();

    // The manager comes back on the same port, where the queue now exists with another maxsize.
    const protocolErrors: Error[] = [];
    const second = await started({ port, onClientError: (error) => protocolErrors.push(error) });
    const local = await second.connect();
    cleanups.push(() => local.close());
    await local.queue('reconnect.restore', { maxsize: 5 });

    const error = await failed;
    expect(ConfigError.isInstance(error)).toBe(true);
    expect(error.message).toMatch(/maxsize/);
    await expect(queue.put(1)).rejects.toSatisfy((rejection) => ConfigError.isInstance(rejection));
    // Nothing followed the refused DECLARE: no CONSUME on an unknown handle, no reconnect loop.
    await sleep(1000);
    expect(protocolErrors).toEqual([]);
    expect(second.connectionCount).toBe(0);
  });

  it('a manager that comes back with another authkey fails the connection with an AuthError event', async () => {
    const first = await serve({ port: 0, authkey });
    const { port } = first.address;
    const connection = await connected(`tcp://127.0.0.1:${port}`);
    await connection.queue('reconnect.auth');
    const failed = nextError(connection, 15_000);
    await first.close();
    await started({ port, authkey: 'another-key' });

    const error = await failed;
    expect(AuthError.isInstance(error)).toBe(true);
    await expect(connection.queue('reconnect.auth')).rejects.toSatisfy((rejection) =>
      AuthError.isInstance(rejection),
    );
  });

  it('with reconnect: false a lost connection is a terminal failure, reported once', async () => {
    const server = await started();
    const connection = await connected(server.url, { reconnect: false });
    const errors: Error[] = [];
    connection.on('error', (error) => errors.push(error));
    await connection.queue('reconnect.off');
    await server.close();
    await waitFor(() => errors.length === 1, 10_000, 'the error event');
    expect(TaskwireError.isInstance(errors[0])).toBe(true);
    await sleep(200);
    expect(errors).toHaveLength(1);
  });
});

describe('reconnectDeadlineMs', () => {
  it('a manager that stays away past the deadline ends the connection with one error event', async () => {
    const server = await started();
    const connection = await connected(server.url, { reconnectDeadlineMs: 800 });
    const queue = await connection.queue<string>(`deadline-${process.pid}`);
    const failed = nextError(connection, 15_000);
    await server.close();
    const error = await failed;
    expect(TaskwireError.isInstance(error) && error.code).toBe('TASKWIRE_CONNECTION_CLOSED');
    expect(error.message).toMatch(/gave up reconnecting to tcp:\/\/127\.0\.0\.1:\d+ after 800 ms/);
    await expect(queue.put('late')).rejects.toThrow(/gave up reconnecting/);
  });

  it('is also a URL parameter, and a bad one is a ConfigError', async () => {
    const server = await started();
    const connection = await connected(`${server.url}?reconnectDeadlineMs=600`);
    const failed = nextError(connection, 15_000);
    await server.close();
    expect((await failed).message).toMatch(/after 600 ms/);
    await expect(
      createTcpTransport({ authkey }).connect({ url: `${server.url}?reconnectDeadlineMs=soon` }),
    ).rejects.toBeInstanceOf(ConfigError);
  });

  it('a manager back within the deadline is ridden out', async () => {
    const server = await started();
    const port = Number(new URL(server.url).port);
    const connection = await connected(server.url, { reconnectDeadlineMs: 20_000 });
    const errors: Error[] = [];
    connection.on('error', (error) => errors.push(error));
    const name = `deadline-back-${process.pid}`;
    const queue = await connection.queue<string>(name);
    await server.close();
    await sleep(300);
    const again = await started({ port });
    // Calls made while it reconnects reject (retryable); once back, they work on the same handle.
    const deadline = Date.now() + 15_000;
    while (
      !(await queue.put('after').then(
        () => true,
        () => false,
      ))
    ) {
      if (Date.now() > deadline) throw new Error('the connection never came back');
      await sleep(100);
    }
    expect((await queue.get({ timeoutMs: 5000 })).body).toBe('after');
    expect(errors).toEqual([]);
    await again.close();
  });
});

import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AuthError, ConnectionClosedError, type Delivery } from '@taskwire/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createTcpTransport, serve, type TcpServer } from '../src/index.js';
import { waitFor } from './helpers.js';

const authkey = 'faults-key';
const transport = createTcpTransport({ authkey });
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function started(options: Parameters<typeof serve>[0] = {}): Promise<TcpServer> {
  const server = await serve({ port: 0, authkey, ...options });
  cleanups.push(() => server.close());
  return server;
}

describe('tcp faults', () => {
  it('a worker killed with SIGKILL holding unacked deliveries: they are redelivered', async () => {
    const server = await started();
    const local = await server.connect();
    cleanups.push(() => local.close());
    const queue = await local.queue<number>('faults.kill');
    await queue.putMany([1, 2, 3, 4, 5]);

    const fixture = fileURLToPath(new URL('./fixtures/hold-worker.mjs', import.meta.url));
    const child = fork(fixture, [server.url, '3'], {
      env: { ...process.env, TASKWIRE_AUTHKEY: authkey },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    cleanups.push(() => child.kill('SIGKILL'));
    const { held } = await new Promise<{ held: number[] }>((resolve, reject) => {
      child.once('message', resolve as never);
      child.once('exit', (code) => reject(new Error(`worker exited early with ${code}`)));
      setTimeout(() => reject(new Error('worker never took its deliveries')), 10_000);
    });
    expect(held).toEqual([1, 2, 3]);
    expect(await queue.size()).toBe(2);

    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    const received: Delivery<number>[] = [];
    await queue.consume(
      async (delivery) => {
        received.push(delivery);
        await delivery.ack();
      },
      { prefetch: 10 },
    );
    await waitFor(() => received.length === 5, 5000, 'the redeliveries');
    expect(received.map((d) => d.body).sort()).toEqual([1, 2, 3, 4, 5]);
    expect(
      received
        .filter((d) => d.attempt === 2)
        .map((d) => d.body)
        .sort(),
    ).toEqual([1, 2, 3]);
  });

  it('a server restart fails waiting gets with ConnectionClosedError; the client reconnects and carries on', async () => {
    let server = await started();
    const { port } = server.address;
    const connection = await transport.connect({ url: server.url, reconnectMaxDelayMs: 200 });
    cleanups.push(() => connection.close());
    const queue = await connection.queue<string>('faults.restart');
    const seen: string[] = [];
    await queue.consume(async (delivery) => {
      seen.push(delivery.body);
      await delivery.ack();
    });
    const waiting = queue.get();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await server.close();
    const error = await Promise.race([
      waiting.then(
        () => undefined,
        (e: unknown) => e,
      ),
      new Promise((resolve) => setTimeout(() => resolve('hung'), 3000)),
    ]);
    expect(ConnectionClosedError.isInstance(error)).toBe(true);
    await expect(queue.put('while down')).rejects.toSatisfy(ConnectionClosedError.isInstance);

    server = await started({ port });
    // The consumer is re-registered on reconnect: a put from another client reaches it.
    const other = await (await transport.connect({ url: server.url })).queue<string>('faults.restart');
    cleanups.push(() => other.close());
    await other.put('after restart');
    await waitFor(() => seen.includes('after restart'), 5000, 'the re-registered consumer');
    await queue.put('from the reconnected client');
    await waitFor(() => seen.includes('from the reconnected client'), 5000, 'the reconnected put');
  });

  it('an AuthError on reconnect is final: no retry loop', async () => {
    const server = await started();
    const { port } = server.address;
    const connection = await transport.connect({ url: server.url, reconnectMaxDelayMs: 100 });
    cleanups.push(() => connection.close());
    const queue = await connection.queue('faults.rekey');
    await server.close();
    let handshakes = 0;
    const rekeyed = await started({ port, authkey: 'a-different-key', onClientError: () => handshakes++ });
    expect(rekeyed.address.port).toBe(port);
    let last: unknown;
    await waitFor(
      () => {
        void queue.size().catch((e) => {
          last = e;
        });
        return AuthError.isInstance(last);
      },
      5000,
      'the AuthError',
    );
    const attempts = handshakes;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(handshakes).toBe(attempts);
  });

  it('a frame bigger than the server allows is refused at put, and the connection stays usable', async () => {
    const server = await started({ maxFrameBytes: 4096 });
    const connection = await transport.connect({ url: server.url });
    cleanups.push(() => connection.close());
    const queue = await connection.queue<Uint8Array>('faults.small');
    await expect(queue.put(new Uint8Array(8192))).rejects.toThrow(/server's limit/);
    await queue.put(new Uint8Array(16));
    expect(await queue.size()).toBe(1);
  });
});

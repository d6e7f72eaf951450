import { connect as netConnect, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { createTcpTransport, serve } from '../src/index.js';
import { waitFor } from './helpers.js';

// Issue 11 item 3: sockets that never authenticate cannot lock out a client with the key. Default limits
// (512 handshakes overall, 128 per address); the handshake deadline is raised so the silent sockets stay.
const authkey = 'admission-key';
const refusals: string[] = [];
const server = await serve({
  port: 0,
  authkey,
  handshakeTimeoutMs: 120_000,
  onClientError: (error) => refusals.push(error.message),
});
const port = server.address.port;
const transport = createTcpTransport();
const silent: Socket[] = [];
const prefix = `admission-${process.pid}-${Date.now()}`;

afterAll(async () => {
  for (const socket of silent) socket.destroy();
  await server.close();
});

/** Open a socket from `localAddress` that never says a word (and never closes on its own). */
function silentSocket(localAddress: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port, localAddress });
    socket.on('error', () => undefined); // a socket the server closed to make room
    socket.once('connect', () => resolve());
    socket.once('error', reject);
    silent.push(socket);
  });
}

/** A client with the key connects (from 127.0.0.1), puts and gets, and leaves. */
async function honestClientWorks(): Promise<void> {
  const connection = await transport.connect({
    url: server.url,
    authkey,
    connectTimeoutMs: 20_000,
    reconnect: false,
  });
  try {
    const queue = await connection.queue<string>(`${prefix}.honest`);
    await queue.put('hello');
    const delivery = await queue.get({ timeoutMs: 5000 });
    expect(delivery.body).toBe('hello');
    await delivery.ack();
  } finally {
    await connection.close();
  }
}

describe('tcp admission: unauthenticated sockets have their own budget', () => {
  it('a client with the key connects and works while 1,100 silent sockets are held open', async () => {
    // 550 from 127.0.0.1 (where the honest client comes from too), 550 from ten other loopback addresses.
    const sources = [
      ...Array<string>(550).fill('127.0.0.1'),
      ...Array.from({ length: 550 }, (_, i) => `127.0.0.${2 + (i % 10)}`),
    ];
    for (let i = 0; i < sources.length; i += 100) {
      await Promise.all(sources.slice(i, i + 100).map((source) => silentSocket(source)));
    }
    // The server has taken in every socket it will hold (512 here; all 1,024 slots before this budget existed).
    await waitFor(() => server.connectionCount >= 512, 20_000, 'the server to take in the silent sockets');

    await honestClientWorks();
    // The budget is still full of silent sockets (less the one that made room for the client).
    expect(server.unauthenticatedCount).toBeLessThanOrEqual(512);
    expect(server.unauthenticatedCount).toBeGreaterThanOrEqual(511);
    // Still full of silent sockets; the oldest made room, and the client had the slot until it authenticated.
    expect(refusals.some((why) => why.includes('handshakes from 127.0.0.1'))).toBe(true);
    expect(refusals.some((why) => why.includes('handshakes in progress'))).toBe(true);
  });

  it('the silent sockets held the budget, not the authenticated slots: several clients still connect', async () => {
    const connections = await Promise.all(
      Array.from({ length: 4 }, () => transport.connect({ url: server.url, authkey, reconnect: false })),
    );
    try {
      const queue = await connections[0]!.queue<number>(`${prefix}.several`);
      await queue.put(1);
      expect(await queue.size()).toBe(1);
    } finally {
      for (const connection of connections) await connection.close();
    }
  });
});

describe('tcp admission: authenticated slots', () => {
  it('maxConnections counts authenticated clients; one more is refused as closed (retryable), not as a wrong key', async () => {
    const small = await serve({ port: 0, authkey, maxConnections: 2 });
    try {
      const a = await transport.connect({ url: small.url, authkey, reconnect: false });
      const b = await transport.connect({ url: small.url, authkey, reconnect: false });
      const refused = await transport
        .connect({ url: small.url, authkey, reconnect: false, connectTimeoutMs: 5000 })
        .catch((error: Error) => error);
      expect((refused as { code?: string }).code).toBe('TASKWIRE_CONNECTION_CLOSED');
      await a.close();
      await waitFor(() => small.connectionCount === 1, 5000, 'a slot to free');
      const c = await transport.connect({ url: small.url, authkey, reconnect: false });
      await b.close();
      await c.close();
    } finally {
      await small.close();
    }
  });
});

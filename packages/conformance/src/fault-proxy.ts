import { connect as connectSocket, createServer, type Socket } from 'node:net';
import type { Connection, ConnectOptions } from '@taskwire/core';

/** A TCP relay on loopback in front of a backend, whose links can be cut without a goodbye. */
export interface FaultProxy {
  /** The loopback port clients connect to instead of the backend's. */
  readonly port: number;
  /** How many client links are open through the proxy. */
  readonly links: number;
  /**
   * Cut every open link: the client's socket is reset and the backend's destroyed, with no protocol
   * goodbye on either side, as a network failure or a killed peer would. The proxy keeps accepting,
   * so a client that reconnects gets through again.
   */
  cut(): void;
  /**
   * Take the link down: cut every open link and reset every new connection at once, until
   * {@link FaultProxy.up}. A client sees a network that is gone for a while, not a single drop.
   */
  down(): void;
  /** Bring the link back up after {@link FaultProxy.down}: new connections get through again. */
  up(): void;
  /** Cut every link and stop listening. */
  close(): Promise<void>;
}

/** Reset `socket` (RST, not FIN) when it is connected; destroy it otherwise. */
function reset(socket: Socket): void {
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

/** Start a {@link FaultProxy} relaying to `target` (default host 127.0.0.1). */
export async function startFaultProxy(target: { host?: string; port: number }): Promise<FaultProxy> {
  const links = new Set<[Socket, Socket]>();
  let isDown = false;
  const server = createServer((client) => {
    if (isDown) {
      client.on('error', () => undefined);
      reset(client);
      return;
    }
    const backend = connectSocket({ host: target.host ?? '127.0.0.1', port: target.port });
    const link: [Socket, Socket] = [client, backend];
    links.add(link);
    client.setNoDelay(true);
    backend.setNoDelay(true);
    client.pipe(backend);
    backend.pipe(client);
    // One side gone: the other goes too, abruptly, and the link is forgotten.
    const end = () => {
      if (!links.delete(link)) return;
      reset(client);
      reset(backend);
    };
    for (const socket of link) {
      socket.on('error', end);
      socket.on('close', end);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const cut = () => {
    for (const link of [...links]) {
      links.delete(link);
      for (const socket of link) reset(socket);
    }
  };
  return {
    port: (server.address() as { port: number }).port,
    get links() {
      return links.size;
    },
    cut,
    down: () => {
      isDown = true;
      cut();
    },
    up: () => {
      isDown = false;
    },
    close: async () => {
      cut();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * Connections that each go through a {@link FaultProxy} of their own, so that breaking one leaves the
 * others alone: the `connect` and `breakConnection` of a socket-based transport's fault injection.
 * `open(port, options)` connects the transport to `127.0.0.1:port`. Call `close()` after the suite.
 */
export function proxiedConnections(
  target: { host?: string; port: number },
  open: (port: number, options?: ConnectOptions) => Promise<Connection>,
) {
  const proxies = new Map<Connection, FaultProxy>();
  return {
    /** A connection through a proxy of its own. */
    async connect(options?: ConnectOptions): Promise<Connection> {
      const proxy = await startFaultProxy(target);
      try {
        const connection = await open(proxy.port, options);
        proxies.set(connection, proxy);
        return connection;
      } catch (error) {
        await proxy.close();
        throw error;
      }
    },
    /** Cut the links of a connection made by `connect`. */
    breakConnection(connection: Connection): void {
      const proxy = proxies.get(connection);
      if (!proxy) throw new Error('breakConnection: not a connection made through proxiedConnections()');
      proxy.cut();
    },
    /** Stop every proxy (after the connections are closed). */
    async close(): Promise<void> {
      const all = [...proxies.values()];
      proxies.clear();
      await Promise.all(all.map((proxy) => proxy.close()));
    },
  };
}

import { type Capabilities, type Connection, MEMORY_CAPABILITIES, type Transport } from '@taskwire/core';
import { TcpConnection, type TcpConnectOptions } from './client.js';
import { type ServeOptions, serve, type TcpServer } from './server.js';

/** The hosted engine's: everything but persistence (the queues live in the server's memory). */
export const TCP_CAPABILITIES: Capabilities = MEMORY_CAPABILITIES;

/** The TCP manager's client side: `tcp://host:port` and `tcps://host:port`. */
export class TcpTransport implements Transport {
  readonly name = 'tcp';
  readonly schemes = ['tcp', 'tcps'] as const;
  readonly capabilities = TCP_CAPABILITIES;
  /** Pushing and holding a delivery costs the manager almost nothing: a window that covers a round trip. */
  readonly recommendedPrefetch = 1024;

  /** @param defaults Options every `connect()` starts from (e.g. `authkey`, `tls`). */
  constructor(private readonly defaults: TcpConnectOptions = {}) {}

  /** Connect and authenticate; see {@link TcpConnectOptions}. */
  connect(options: TcpConnectOptions = {}): Promise<Connection> {
    return TcpConnection.open(this, { ...this.defaults, ...options });
  }

  /**
   * Host the queues in this process (the master is the TCP manager); same as {@link serve}.
   * This is how an application that resolved the transport by name (`--transport tcp`) embeds it.
   */
  serve(options: ServeOptions): Promise<TcpServer> {
    return serve(options);
  }
}

/** Create the TCP transport. `options` are defaults for every `connect()`. */
export function createTcpTransport(options: TcpConnectOptions = {}): TcpTransport {
  return new TcpTransport(options);
}

import type { ConnectionOptions } from 'node:tls';
import type { ConnectOptions } from '@taskwire/core';
import type { AuthkeySource } from './auth.js';

/** Options of `connect()` on the TCP transport. */
export interface TcpConnectOptions extends ConnectOptions, AuthkeySource {
  /**
   * `tcp://host:port`, or `tcps://host:port` for TLS.
   * @default 'tcp://127.0.0.1:5555'
   */
  url?: string;
  /** TLS options for `tcps://`, e.g. `{ ca }` to trust a private certificate. */
  tls?: ConnectionOptions;
  /**
   * Give up on one connection attempt (TCP connect plus handshake) after this many ms.
   * @default 10000
   */
  connectTimeoutMs?: number;
  /**
   * Reconnect with exponential backoff after a lost connection (never after an `AuthError`).
   * @default true
   */
  reconnect?: boolean;
  /**
   * Longest wait between two reconnect attempts.
   * @default 5000
   */
  reconnectMaxDelayMs?: number;
  /**
   * A reconnected connection that has restored its queues and consumers and then stayed up this long counts as
   * healthy: the next loss starts the backoff again from its first step. Until then every loss continues the
   * backoff where it was, so a server that drops each connection right after the handshake is not hammered.
   * @default 5000
   */
  reconnectStableMs?: number;
  /**
   * How long a lost connection keeps trying to come back (a manager restarting, a network cut) before it gives up
   * for good: pending and later operations then reject with a `ConnectionClosedError` saying so, and the connection
   * emits it as its `error` event. Also the URL parameter `?reconnectDeadlineMs=`; the same option on every
   * transport.
   * @default 300000 (5 minutes)
   */
  reconnectDeadlineMs?: number;
}

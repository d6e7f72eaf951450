import type { Capabilities, Connection, ConnectOptions, Transport } from '@taskwire/core';
import { RedisConnection, type RedisConnectOptions } from './connection.js';

/** Everything: Redis does every option of the contract, and persists what it is told to. */
export const REDIS_CAPABILITIES: Capabilities = Object.freeze({
  lifo: true,
  priority: true,
  maxsize: true,
  delayed: true,
  persistent: true,
  deadLetter: true,
  broadcast: true,
  stats: true,
  peek: true,
  listQueues: true,
});

/** The `redis://` / `rediss://` transport. Options given here are defaults of every `connect()`. */
export class RedisTransport implements Transport {
  readonly name = 'redis';
  readonly schemes = ['redis', 'rediss'] as const;
  readonly capabilities = REDIS_CAPABILITIES;

  constructor(private readonly defaults: RedisConnectOptions = {}) {}

  /** Open a connection; see {@link RedisConnectOptions}. */
  connect(options: ConnectOptions & RedisConnectOptions = {}): Promise<Connection & RedisConnection> {
    return RedisConnection.open(this, { ...this.defaults, ...options });
  }
}

/** Create the Redis transport, optionally with default connect options. */
export function createRedisTransport(options?: RedisConnectOptions): RedisTransport {
  return new RedisTransport(options);
}

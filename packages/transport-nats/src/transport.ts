import type { Capabilities, Connection, ConnectOptions, Transport } from '@taskwire/core';
import { NatsConnection } from './connection.js';
import type { NatsConnectOptions } from './url.js';

/**
 * What JetStream gives taskwire: durable FIFO work queues with delays, `maxsize`, dead-lettering, broadcast and
 * inspection. No LIFO or priority (a stream serves in order). See the README's capability mapping.
 */
export const NATS_CAPABILITIES: Capabilities = Object.freeze({
  lifo: false,
  priority: false,
  maxsize: true,
  delayed: true,
  persistent: true,
  deadLetter: true,
  broadcast: true,
  stats: true,
  peek: true,
  listQueues: true,
});

/** The `nats://` transport. Options given here are defaults of every `connect()`. */
export class NatsTransport implements Transport {
  readonly name = 'nats';
  readonly schemes = ['nats'] as const;
  readonly capabilities = NATS_CAPABILITIES;
  /** A held delivery costs the server a pending entry and its holder a heartbeat: a window like RabbitMQ's. */
  readonly recommendedPrefetch = 256;

  constructor(private readonly defaults: NatsConnectOptions = {}) {}

  /** Open a connection; see {@link NatsConnectOptions}. */
  connect(options: ConnectOptions & NatsConnectOptions = {}): Promise<Connection & NatsConnection> {
    return NatsConnection.open(this, { ...this.defaults, ...options });
  }
}

/** Create the NATS JetStream transport, optionally with default connect options. */
export function createNatsTransport(options?: NatsConnectOptions): NatsTransport {
  return new NatsTransport(options);
}

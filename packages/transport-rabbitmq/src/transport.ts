import { randomBytes } from 'node:crypto';
import {
  type Capabilities,
  type Connection,
  type ConnectOptions,
  createCodec,
  type Transport,
} from '@taskwire/core';
import type { SocketOptions } from 'amqplib';
import { CLASSIC, type QueueKind } from './arguments.js';
import { RabbitMQConnection } from './connection.js';
import { Publisher } from './publisher.js';
import type { QueueContext } from './queue-context.js';
import { checkQuorumSupport, type QueueKindOptions, resolveQueueKind } from './queue-kind.js';
import { ReconnectingConnection, type ReconnectOptions } from './reconnecting-connection.js';
import { type EndpointOptions, resolveBrokerAddress } from './url.js';

/** Classic queues: everything except LIFO (a RabbitMQ queue only serves from its head). */
export const RABBITMQ_CAPABILITIES: Capabilities = Object.freeze({
  lifo: false,
  priority: true,
  maxsize: true,
  delayed: true,
  persistent: true,
  deadLetter: true,
  broadcast: true,
  stats: false,
  peek: false,
  listQueues: false,
});

/**
 * Quorum queues (RabbitMQ 3.10 or later): no priorities (3.x has none, 4.x two levels, not taskwire's ordered
 * 0–255) and no maxsize (their `x-max-length` is a soft limit that concurrent publishes overshoot).
 */
export const RABBITMQ_QUORUM_CAPABILITIES: Capabilities = Object.freeze({
  ...RABBITMQ_CAPABILITIES,
  priority: false,
  maxsize: false,
});

/** The capabilities of queues of `kind`. */
function capabilitiesOf(kind: QueueKind): Capabilities {
  return kind.type === 'quorum' ? RABBITMQ_QUORUM_CAPABILITIES : RABBITMQ_CAPABILITIES;
}

/** The queue kind of a transport's defaults; a bad URL or option is left for `connect()` to report. */
function defaultKind(defaults: RabbitMQConnectOptions): QueueKind {
  try {
    return resolveQueueKind(defaults, resolveBrokerAddress(defaults).queueKind);
  } catch {
    return CLASSIC;
  }
}

/** How long a dropped connection keeps reconnecting by default: through a broker restart or upgrade. */
const DEFAULT_RECONNECT_DEADLINE_MS = 300_000;

function checkReconnectDeadline(value: number): number {
  if (typeof value !== 'number' || !(value > 0)) {
    throw new RangeError(
      `reconnectDeadlineMs must be a number of milliseconds above 0 (got ${String(value)})`,
    );
  }
  return value;
}

/** Options of `connect()` (and defaults given to {@link createRabbitMQTransport}). */
export interface RabbitMQConnectOptions extends ConnectOptions, EndpointOptions, QueueKindOptions {
  /**
   * Durable queues and persistent messages (survive a broker restart); `false` = transient.
   * @default true
   */
  durable?: boolean;
  /** `prefetch` of `consume()` when not given. @default 100 */
  prefetch?: number;
  /** Disable Nagle's algorithm on the socket (amqplib leaves it on). @default true */
  noDelay?: boolean;
  /** Backoff after the connection drops. @default { initialDelayMs: 100, maxDelayMs: 5000, maxRetries: Infinity } */
  reconnect?: ReconnectOptions;
  /**
   * How long a dropped connection keeps trying to come back (a broker restarting, a network cut) before it gives
   * up for good: pending puts and gets then reject with a `ConnectionClosedError` saying so, and the connection
   * emits it as its `error` event. Also the URL parameter `?reconnectDeadlineMs=`; the same option on every
   * transport. @default 300000 (5 minutes)
   */
  reconnectDeadlineMs?: number;
  /** Time allowed for the first connection. @default 10000 */
  connectTimeoutMs?: number;
  /** Extra socket/TLS options for amqplib (`ca`, `cert`, `key`, …). */
  socketOptions?: SocketOptions;
}

/**
 * The RabbitMQ transport (amqplib): `amqp://` and `amqps://`. Classic or quorum queues with publisher
 * confirms, manual acks and prefetch; see the package README for how each capability maps.
 * Its capabilities are those of the queue type of its defaults; a connection opened with another
 * queue type answers `connection.transport` with a transport whose capabilities match.
 */
export class RabbitMQTransport implements Transport {
  readonly name = 'rabbitmq';
  readonly schemes = ['amqp', 'amqps'] as const;
  readonly capabilities: Capabilities;
  private readonly kind: QueueKind;

  constructor(private readonly defaults: RabbitMQConnectOptions = {}) {
    this.kind = defaultKind(defaults);
    this.capabilities = capabilitiesOf(this.kind);
  }

  async connect(options: RabbitMQConnectOptions = {}): Promise<Connection> {
    const merged: RabbitMQConnectOptions = { ...this.defaults, ...options };
    const broker = resolveBrokerAddress(merged);
    const kind = resolveQueueKind(merged, broker.queueKind);
    const codec = createCodec({ maxPayloadBytes: merged.maxPayloadBytes });
    const amqp = await ReconnectingConnection.open({
      broker,
      socket: {
        ...merged.socketOptions,
        noDelay: merged.noDelay ?? true,
        timeout: merged.connectTimeoutMs ?? 10_000,
      },
      reconnect: {
        initialDelayMs: merged.reconnect?.initialDelayMs ?? 100,
        maxDelayMs: merged.reconnect?.maxDelayMs ?? 5000,
        maxRetries: merged.reconnect?.maxRetries ?? Number.POSITIVE_INFINITY,
      },
      deadlineMs: checkReconnectDeadline(
        merged.reconnectDeadlineMs ?? broker.reconnectDeadlineMs ?? DEFAULT_RECONNECT_DEADLINE_MS,
      ),
    });
    try {
      checkQuorumSupport(kind, (await amqp.ready()).connection.serverProperties.version);
    } catch (error) {
      await amqp.close();
      throw error;
    }
    const publisher = new Publisher(amqp);
    const idPrefix = `${randomBytes(6).toString('base64url')}-`;
    let counter = 0;
    const context: QueueContext = {
      amqp,
      publisher,
      codec,
      durable: merged.durable ?? true,
      kind,
      prefetch: merged.prefetch ?? 100,
      nextId: () => idPrefix + (++counter).toString(36),
    };
    // The connection names a transport whose capabilities are those of its own queue type (its options as defaults).
    const owner = kind.type === this.kind.type ? this : new RabbitMQTransport(merged);
    return new RabbitMQConnection(owner, amqp, publisher, context);
  }
}

/** Create the RabbitMQ transport; `defaults` apply to every `connect()`. */
export function createRabbitMQTransport(defaults: RabbitMQConnectOptions = {}): RabbitMQTransport {
  return new RabbitMQTransport(defaults);
}

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
import { Inspector } from './inspector.js';
import { ManagementApi, resolveManagementTarget } from './management.js';
import { Publisher } from './publisher.js';
import type { QueueContext } from './queue-context.js';
import { QueueIndexes } from './queue-index.js';
import { checkQuorumSupport, type QueueKindOptions, resolveQueueKind } from './queue-kind.js';
import { ReconnectingConnection, type ReconnectOptions } from './reconnecting-connection.js';
import { type BrokerAddress, type EndpointOptions, resolveBrokerAddress } from './url.js';

/**
 * Classic queues: everything except LIFO (a RabbitMQ queue only serves from its head) and peek (AMQP can only look
 * at an item by taking it); listing queues needs the management API (`managementUrl`), see
 * {@link RABBITMQ_MANAGED_CAPABILITIES}.
 */
export const RABBITMQ_CAPABILITIES: Capabilities = Object.freeze({
  lifo: false,
  priority: true,
  maxsize: true,
  delayed: true,
  persistent: true,
  deadLetter: true,
  broadcast: true,
  stats: true,
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

/** Classic queues with the management API configured: queues can be listed too. */
export const RABBITMQ_MANAGED_CAPABILITIES: Capabilities = Object.freeze({
  ...RABBITMQ_CAPABILITIES,
  listQueues: true,
});

/** Quorum queues with the management API configured. */
export const RABBITMQ_QUORUM_MANAGED_CAPABILITIES: Capabilities = Object.freeze({
  ...RABBITMQ_QUORUM_CAPABILITIES,
  listQueues: true,
});

/** The capabilities of queues of `kind`, with or without the management API. */
function capabilitiesOf(kind: QueueKind, managed: boolean): Capabilities {
  if (kind.type === 'quorum')
    return managed ? RABBITMQ_QUORUM_MANAGED_CAPABILITIES : RABBITMQ_QUORUM_CAPABILITIES;
  return managed ? RABBITMQ_MANAGED_CAPABILITIES : RABBITMQ_CAPABILITIES;
}

/** The management URL of some options: the option, else the URL's `management` parameter. */
function managementUrlOf(options: RabbitMQConnectOptions, broker: BrokerAddress): string | undefined {
  return options.managementUrl ?? broker.management;
}

/** The queue kind and management of a transport's defaults; a bad URL or option is left for `connect()`. */
function defaultProfile(defaults: RabbitMQConnectOptions): { kind: QueueKind; managed: boolean } {
  try {
    const broker = resolveBrokerAddress(defaults);
    return {
      kind: resolveQueueKind(defaults, broker.queueKind),
      managed: managementUrlOf(defaults, broker) !== undefined,
    };
  } catch {
    return { kind: CLASSIC, managed: defaults.managementUrl !== undefined };
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
  /**
   * RabbitMQ's management HTTP API (`http://127.0.0.1:15672`; the `rabbitmq_management` plugin), used to list
   * queues (capability `listQueues`) and count a queue's unacknowledged deliveries (`stats().inFlight`). Logs in
   * with the credentials in this URL, else the AMQP connection's. Also the URL parameter
   * `?management=http://127.0.0.1:15672`. @default none: `listQueues` is refused and `inFlight` undefined
   */
  managementUrl?: string;
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

  constructor(private readonly defaults: RabbitMQConnectOptions = {}) {
    const { kind, managed } = defaultProfile(defaults);
    this.capabilities = capabilitiesOf(kind, managed);
  }

  async connect(options: RabbitMQConnectOptions = {}): Promise<Connection> {
    const merged: RabbitMQConnectOptions = { ...this.defaults, ...options };
    const broker = resolveBrokerAddress(merged);
    const kind = resolveQueueKind(merged, broker.queueKind);
    const managementUrl = managementUrlOf(merged, broker);
    const management =
      managementUrl === undefined
        ? undefined
        : new ManagementApi(resolveManagementTarget(managementUrl, broker.login));
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
    const durable = merged.durable ?? true;
    const context: QueueContext = {
      amqp,
      publisher,
      indexes: new QueueIndexes(amqp, publisher, durable),
      codec,
      durable,
      kind,
      prefetch: merged.prefetch ?? 100,
      nextId: () => idPrefix + (++counter).toString(36),
    };
    // The connection names a transport whose capabilities are its own (its options as defaults).
    const capabilities = capabilitiesOf(kind, management !== undefined);
    const owner = capabilities === this.capabilities ? this : new RabbitMQTransport(merged);
    const inspector = new Inspector(context, context.indexes, management);
    return new RabbitMQConnection(owner, amqp, publisher, context, inspector, management);
  }
}

/** Create the RabbitMQ transport; `defaults` apply to every `connect()`. */
export function createRabbitMQTransport(defaults: RabbitMQConnectOptions = {}): RabbitMQTransport {
  return new RabbitMQTransport(defaults);
}

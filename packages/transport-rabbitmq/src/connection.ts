import {
  type BroadcastHandler,
  type Codec,
  ConfigError,
  type Connection,
  ConnectionClosedError,
  type DistributedQueue,
  type MoveOptions,
  type PeekedItem,
  type PeekOptions,
  type QueueOptions,
  type QueueStats,
  type Subscription,
  type Transport,
} from '@taskwire/core';
import { ConnectionEvents, refuseInspection, wrapBackendError } from '@taskwire/core/transport';
import {
  dueQueueName,
  fallsDueViaMover,
  optionForArgument,
  optionsExchangeName,
  optionsRecord,
  queueArguments,
  type RabbitQueueOptions,
  resolveRabbitQueueOptions,
} from './arguments.js';
import { BroadcastPublisher } from './broadcast-publisher.js';
import type { Inspector } from './inspector.js';
import type { ManagementApi } from './management.js';
import type { Publisher } from './publisher.js';
import { RabbitMQQueue } from './queue.js';
import type { QueueContext } from './queue-context.js';
import type { ReconnectingConnection } from './reconnecting-connection.js';
import { BroadcastSubscription, broadcastExchangeName } from './subscription.js';

const NOT_FOUND = 404;
const PRECONDITION_FAILED = 406;

/** Turn a PRECONDITION_FAILED from redeclaring `name` into a `ConfigError` naming the option. */
export function declareError(name: string, error: unknown): unknown {
  const { code, message } = error as { code?: number; message?: string };
  if (code !== PRECONDITION_FAILED) return error;
  const match = /inequivalent arg '([^']+)' for \w+ '[^']*' in vhost '[^']*': (.*?)"?$/.exec(message ?? '');
  const argument = match?.[1] ?? 'arguments';
  return new ConfigError(
    `queue "${name}" already exists with a different ${optionForArgument(argument)} (broker argument ${argument}: ${match?.[2] ?? message}); declare it with the same options or delete it first`,
    { cause: error },
  );
}

/**
 * An open connection to RabbitMQ. Drops are ridden out (reconnect with backoff, consumers subscribe again); giving
 * up reconnecting (`reconnect.maxRetries`, or down past `reconnectDeadlineMs`) or a login refused on reconnect is
 * terminal and reported once on the `error` event.
 */
export class RabbitMQConnection extends ConnectionEvents implements Connection {
  private readonly queues = new Set<RabbitMQQueue<any>>();
  private readonly subscriptions = new Set<BroadcastSubscription<any>>();
  private readonly broadcasts: BroadcastPublisher;
  private closed = false;

  constructor(
    readonly transport: Transport,
    private readonly amqp: ReconnectingConnection,
    private readonly publisher: Publisher,
    private readonly context: QueueContext,
    private readonly inspector: Inspector,
    /** The management HTTP API, when configured (`managementUrl`): it lists queues. */
    private readonly management: ManagementApi | undefined,
  ) {
    super();
    this.broadcasts = new BroadcastPublisher(amqp);
    amqp.onFailure((error) => this.reportFailure(error));
    amqp.onReconnect(() => this.reportReconnect());
  }

  private get codec(): Codec {
    return this.context.codec;
  }

  async queue<T = unknown>(name: string, options?: QueueOptions): Promise<DistributedQueue<T>> {
    this.assertOpen();
    const given = options !== undefined && Object.values(options).some((value) => value !== undefined);
    const resolved = resolveRabbitQueueOptions(name, options, this.context.kind);
    // Without options, an existing queue is opened as it is (like the memory engine, omitted
    // options are taken from the queue); RabbitMQ would otherwise reject the default arguments.
    try {
      if (!given && (await this.exists(name))) return await this.openAsItIs<T>(name);
      try {
        await this.declare(name, resolved);
      } catch (error) {
        // Another process created the queue between the check and the declare: without options, open it as it is.
        if (!given && error instanceof ConfigError && (await this.exists(name)))
          return await this.openAsItIs<T>(name);
        throw error;
      }
      return this.track(
        await new RabbitMQQueue<T>(
          this.context,
          name,
          resolved,
          fallsDueViaMover(resolved, this.context.kind),
        ).start(),
      );
    } catch (error) {
      throw wrapBackendError(error, `rabbitmq: declaring queue "${name}"`);
    }
  }

  /** Open an existing queue with the options it was declared with; a due queue says its items fall due through one. */
  private async openAsItIs<T>(name: string): Promise<DistributedQueue<T>> {
    const viaMover = await this.exists(dueQueueName(name));
    return this.track(await new RabbitMQQueue<T>(this.context, name, undefined, viaMover).start());
  }

  async publish<T = unknown>(channel: string, message: T): Promise<void> {
    this.assertOpen();
    const content = Buffer.from(this.codec.encode(message));
    // Not declared here: the exchange exists while someone subscribes, and a publish to none is dropped.
    await this.broadcasts.publish(broadcastExchangeName(channel), content);
  }

  async subscribe<T = unknown>(channel: string, handler: BroadcastHandler<T>): Promise<Subscription> {
    this.assertOpen();
    const subscription = new BroadcastSubscription<T>(this.amqp, this.codec, channel, handler);
    await subscription.start();
    this.subscriptions.add(subscription);
    return subscription;
  }

  /** Through the management API only (`managementUrl`): AMQP cannot list queues. */
  async listQueues(): Promise<string[]> {
    this.assertOpen();
    if (!this.management) return refuseInspection(this.transport.name, 'listQueues');
    return this.management.listQueues();
  }

  /** `inFlight` is known through the management API only (sampled by the broker), else undefined. */
  async stats(name: string): Promise<QueueStats> {
    this.assertOpen();
    return this.inspector.stats(name).catch((error: unknown) => {
      throw wrapBackendError(error, `rabbitmq: stats of "${name}"`);
    });
  }

  /**
   * Always refused: AMQP can only look at an item by taking it, and giving it back marks it redelivered (one
   * delivery more for its attempt count); the management API's "get messages" does the same.
   */
  peek<T = unknown>(_name: string, _options?: PeekOptions): Promise<PeekedItem<T>[]> {
    return refuseInspection(this.transport.name, 'peek');
  }

  async moveItems(from: string, to: string, options?: MoveOptions): Promise<number> {
    this.assertOpen();
    return this.inspector.move(from, to, options).catch((error: unknown) => {
      throw wrapBackendError(error, `rabbitmq: moving items from "${from}" to "${to}"`);
    });
  }

  async purgeQueue(name: string): Promise<number> {
    this.assertOpen();
    return this.inspector.purge(name).catch((error: unknown) => {
      throw wrapBackendError(error, `rabbitmq: purging "${name}"`);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.subscriptions].map((subscription) => subscription.unsubscribe()));
    const finalisers = await Promise.all([...this.queues].map((queue) => queue.shutdown()));
    await Promise.all([this.publisher.close(), this.broadcasts.close()]);
    // Closing the connection returns every unsettled delivery to its queue.
    await this.amqp.close();
    for (const rejectWaitingGets of finalisers) rejectWaitingGets();
  }

  private track<T>(queue: RabbitMQQueue<T>): RabbitMQQueue<T> {
    this.queues.add(queue);
    return queue;
  }

  private async exists(name: string): Promise<boolean> {
    try {
      await this.amqp.withChannel((channel) => channel.checkQueue(name));
      return true;
    } catch (error) {
      if ((error as { code?: number }).code === NOT_FOUND) return false;
      throw error;
    }
  }

  /** Declare the queue, its options marker and its dead-letter queue, each on a throwaway channel. */
  private async declare(name: string, options: RabbitQueueOptions): Promise<void> {
    const durable = this.context.durable;
    // AMQP cannot read a queue's arguments back: a new queue's dead-letter queue is recorded in its index.
    const recordDeadLetter = options.deadLetter !== undefined && !(await this.exists(name));
    await this.amqp
      .withChannel((channel) =>
        channel.assertQueue(name, { durable, arguments: queueArguments(name, options, this.context.kind) }),
      )
      .catch((error) => {
        throw declareError(name, error);
      });
    await this.amqp
      .withChannel((channel) =>
        channel.assertExchange(optionsExchangeName(name), 'fanout', {
          durable,
          arguments: { 'alternate-exchange': optionsRecord(options) },
        }),
      )
      .catch((error) => {
        throw declareError(name, error);
      });
    if (recordDeadLetter) await this.context.indexes.recordDeadLetter(name, options.deadLetter!);
    if (fallsDueViaMover(options, this.context.kind)) {
      // Classic and unbounded, so the broker never drops what falls due into it (see DueMover).
      await this.amqp.withChannel((channel) => channel.assertQueue(dueQueueName(name), { durable }));
    }
    if (options.deadLetter !== undefined && !(await this.exists(options.deadLetter))) {
      const deadOptions = resolveRabbitQueueOptions(options.deadLetter, {}, this.context.kind);
      await this.amqp
        .withChannel((channel) =>
          channel.assertQueue(options.deadLetter!, {
            durable,
            arguments: queueArguments(options.deadLetter!, deadOptions, this.context.kind),
          }),
        )
        .catch((error) => {
          throw declareError(options.deadLetter!, error);
        });
    }
  }

  private assertOpen(): void {
    if (this.closed || !this.amqp.usable)
      throw this.terminalFailure ?? new ConnectionClosedError('RabbitMQ connection is closed');
  }
}

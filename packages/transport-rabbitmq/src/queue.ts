import {
  ConnectionClosedError,
  type ConsumeOptions,
  type ConsumerHandle,
  checkOptionalDuration,
  type Delivery,
  type DeliveryHandler,
  type DistributedQueue,
  type GetOptions,
  type PutOptions,
  QueueEmptyError,
} from '@taskwire/core';
import {
  checkPriority,
  checkPutOptions,
  decodeOrDeadLetter,
  resolvePrefetch,
  runHandler,
  UNDECODABLE,
  undecodableTarget,
  wrapBackendError,
} from '@taskwire/core/transport';
import type { Message } from 'amqplib';
import {
  dueQueueName,
  optionsExchangeName,
  plainQueueArguments,
  type RabbitQueueOptions,
} from './arguments.js';
import { ChannelConsumer } from './channel-consumer.js';
import { DelayQueues } from './delay-queues.js';
import { attemptOf, RabbitMQDelivery, type RequeueTarget } from './delivery.js';
import { DueMover } from './due-mover.js';
import { GetChannel, type GetChannelOwner } from './get-channel.js';
import type { Holder } from './holder.js';
import { PutSender, type PutTarget } from './put-sender.js';
import type { QueueContext } from './queue-context.js';
import { indexQueueName } from './queue-index.js';

// Undecodable messages skipped by one get before it gives up on the queue.
const MAX_UNDECODABLE_PER_GET = 10_000;

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * A RabbitMQ queue behind the `DistributedQueue` contract. `options` is undefined when the queue
 * was opened as it exists (declared without options by this handle).
 */
export class RabbitMQQueue<T> implements DistributedQueue<T>, RequeueTarget, GetChannelOwner, PutTarget {
  private closed = false;
  private readonly gets: GetChannel;
  private readonly consumers = new Set<ChannelConsumer>();
  private readonly delayQueues: DelayQueues;
  private readonly puts: PutSender;
  private deadQueue: Promise<void> | undefined;
  /** The mover of due delayed items, for a queue whose items fall due through one (see {@link DueMover}). */
  private readonly mover: DueMover | undefined;

  /**
   * `viaMover`: the queue's delayed items fall due into its due queue, which this handle's mover empties into it
   * (see `fallsDueViaMover`). Call {@link start} before use.
   */
  constructor(
    private readonly context: QueueContext,
    readonly name: string,
    private readonly options: RabbitQueueOptions | undefined,
    viaMover: boolean,
  ) {
    this.gets = new GetChannel(context.amqp, this);
    const due = viaMover ? dueQueueName(name) : name;
    this.delayQueues = new DelayQueues(context.amqp, context.indexes, name, context.durable, due);
    this.puts = new PutSender(context, this, this.delayQueues, viaMover ? due : undefined);
    if (viaMover) this.mover = new DueMover(context.amqp, context.publisher, name, due);
  }

  /** Start the mover of due items, if any. */
  async start(): Promise<this> {
    await this.mover?.start();
    return this;
  }

  /** The queues that hold this queue's items besides itself: its delay queues and its due queue, if any. */
  private heldElsewhere(): string[] {
    const names = this.delayQueues.names();
    return this.mover ? [...names, dueQueueName(this.name)] : names;
  }

  /** Its maxsize when declared by this handle (for messages); 0 otherwise. */
  get maxsize(): number {
    return this.options?.maxsize ?? 0;
  }

  /** True once closing: waiting gets then stay pending until shutdown rejects them. */
  get closing(): boolean {
    return this.closed;
  }

  put(item: T, options: PutOptions = {}): Promise<void> {
    let content: Buffer;
    let priority: number;
    try {
      this.assertOpen();
      checkPutOptions(options);
      priority = checkPriority(options.priority);
      content = toBuffer(this.context.codec.encode(item));
    } catch (error) {
      return Promise.reject(error);
    }
    return this.puts.send(content, this.puts.properties(priority), options);
  }

  async putMany(items: Iterable<T>, options: PutOptions = {}): Promise<void> {
    this.assertOpen();
    checkPutOptions(options);
    const priority = checkPriority(options.priority);
    const contents = Array.from(items, (item) => toBuffer(this.context.codec.encode(item)));
    // Published back to back on the confirm channel; the broker confirms them in batches.
    await Promise.all(
      contents.map((content) => this.puts.send(content, this.puts.properties(priority), options)),
    );
  }

  async get(options: GetOptions = {}): Promise<Delivery<T>> {
    checkOptionalDuration(options.timeoutMs, 'timeoutMs');
    const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
    for (let skipped = 0; skipped < MAX_UNDECODABLE_PER_GET; ) {
      this.assertOpen();
      const holder = await this.gets.current();
      const remaining = deadline === undefined ? undefined : Math.max(0, deadline - Date.now());
      const taken =
        remaining === 0 ? await this.gets.takeNow(holder) : await this.gets.takeOne(holder, remaining);
      if (taken === 'empty') {
        throw new QueueEmptyError(
          `queue "${this.name}" had nothing to take within ${options.timeoutMs ?? 0} ms`,
        );
      }
      if (taken === 'lost') continue; // the channel went with the connection: wait on the next one
      if (taken.fields.redelivered && (await this.passBack(taken, holder))) continue;
      const delivery = this.toDelivery(taken, holder);
      if (delivery) return delivery;
      skipped++;
    }
    throw new QueueEmptyError(`queue "${this.name}" held only undecodable messages`);
  }

  async consume(handler: DeliveryHandler<T>, options: ConsumeOptions = {}): Promise<ConsumerHandle> {
    this.assertOpen();
    const prefetch = resolvePrefetch(options.prefetch, this.context.prefetch);
    const consumer = new ChannelConsumer(
      this.context.amqp,
      this.name,
      prefetch,
      (message, holder) => {
        const handOver = () => {
          const delivery = this.toDelivery(message, holder);
          if (delivery) void runHandler(handler, delivery);
        };
        if (!message.fields.redelivered) return handOver();
        void this.passBack(message, holder).then((passed) => passed || handOver());
      },
      (cancelled) => this.consumers.delete(cancelled),
    );
    this.consumers.add(consumer);
    try {
      await consumer.subscribe();
    } catch (error) {
      await consumer.cancel();
      throw error;
    }
    return consumer;
  }

  async size(): Promise<number> {
    this.assertOpen();
    return this.context.amqp
      .withChannel(async (channel) => {
        let total = (await channel.checkQueue(this.name)).messageCount;
        for (const name of this.heldElsewhere()) {
          total += (await channel.checkQueue(name).catch(() => ({ messageCount: 0 }))).messageCount;
        }
        return total;
      })
      .catch((error: unknown) => {
        throw wrapBackendError(error, `rabbitmq: size of "${this.name}"`);
      });
  }

  async purge(): Promise<number> {
    this.assertOpen();
    let removed = 0;
    for (const name of [this.name, ...this.heldElsewhere()]) {
      removed += await this.context.amqp
        .withChannel(async (channel) => (await channel.purgeQueue(name)).messageCount)
        .catch(() => 0);
    }
    return removed;
  }

  async close(): Promise<void> {
    (await this.shutdown())();
  }

  /** Close, then delete the queue, the delay queues this handle used and its options marker. */
  async delete(): Promise<void> {
    this.assertOpen();
    const delayQueues = this.heldElsewhere();
    await this.close();
    const { amqp } = this.context;
    try {
      for (const name of [this.name, ...delayQueues]) {
        await amqp.withChannel((channel) => channel.deleteQueue(name));
      }
      await amqp.withChannel((channel) => channel.deleteExchange(optionsExchangeName(this.name)));
      await amqp.withChannel((channel) => channel.deleteQueue(indexQueueName(this.name)));
    } catch (error) {
      throw wrapBackendError(error, `rabbitmq: deleting "${this.name}"`);
    }
  }

  /**
   * Stop consumers, wait for pending puts and free the channels. Returns the function that rejects
   * waiting gets: the caller runs it as its last step, so those rejections reach the caller's
   * handlers in the same tick as its own completion (never as unhandled rejections in between).
   */
  async shutdown(): Promise<() => void> {
    if (this.closed) return () => undefined;
    this.closed = true;
    await Promise.allSettled([...this.consumers].map((consumer) => consumer.close()));
    await this.mover?.close();
    await this.puts.settle();
    await this.gets.close();
    return () =>
      this.gets.rejectWaiting(new ConnectionClosedError(`queue "${this.name}" was closed while waiting`));
  }

  publishCopy(message: Message, attempt: number, delayMs: number): Promise<boolean> {
    return this.puts.publishCopy(message, attempt, delayMs);
  }

  /**
   * Give `message` back without counting this delivery: a confirmed copy whose header records the
   * deliveries before this one goes to the back of the queue, then the original is acked. A
   * message the broker redelivered (its channel closed unsettled: a crashed or closed consumer)
   * always comes through here before any handler sees it, because `redelivered` is a flag and
   * cannot count a second crash. A copy a full bounded queue refuses waits in its due queue instead (see
   * PutSender.publishCopy). Resolves false when the broker refused the copy anyway (deleted queue):
   * the caller keeps the original.
   */
  private async passBack(message: Message, holder: Holder): Promise<boolean> {
    try {
      if (!(await this.publishCopy(message, attemptOf(message) - 1, 0))) return false;
      holder.ack(message);
    } catch {
      holder.reject(message, true); // not copied: the broker keeps it and redelivers it later
    }
    return true;
  }

  /** Hand back, uncounted, an item a satisfied get received by mistake. */
  handBack(message: Message, holder: Holder): void {
    void this.passBack(message, holder).then((passed) => passed || holder.reject(message, true));
  }

  /** Decode `message` into a delivery; an undecodable one is dead-lettered (undefined). */
  private toDelivery(message: Message, holder: Holder): RabbitMQDelivery<T> | undefined {
    const body = decodeOrDeadLetter(
      this.context.codec,
      message.content,
      this.deadLetterUndecodable,
      message,
      holder,
    );
    if (body === UNDECODABLE) return undefined;
    const id = message.properties.messageId ?? `${this.name}:${message.fields.deliveryTag}`;
    return new RabbitMQDelivery(
      this,
      holder,
      message,
      String(id),
      body as T,
      this.options?.visibilityTimeoutMs ?? 0,
    );
  }

  private readonly deadLetterUndecodable = async (message: Message, holder: Holder): Promise<void> => {
    // The queue's dead-letter exchange routes to deadLetter or `<name>.dead`; make sure the
    // latter exists so the message is kept, not dropped.
    if (!this.options?.deadLetter) {
      this.deadQueue ??= this.context.amqp
        .withChannel(async (channel) => {
          await channel.assertQueue(undecodableTarget(this.name, undefined), {
            durable: this.context.durable,
            arguments: plainQueueArguments(this.context.kind),
          });
        })
        .catch((error) => {
          this.deadQueue = undefined;
          throw error;
        });
      await this.deadQueue.catch(() => undefined);
    }
    holder.reject(message, false);
  };

  private assertOpen(): void {
    if (this.closed || !this.context.amqp.usable) {
      throw this.context.amqp.failure ?? new ConnectionClosedError(`queue "${this.name}" is closed`);
    }
  }
}

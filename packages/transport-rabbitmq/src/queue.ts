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
  QueueFullError,
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
import type { Message, Options } from 'amqplib';
import { ATTEMPT_HEADER, optionsExchangeName, type RabbitQueueOptions } from './arguments.js';
import { ChannelConsumer } from './channel-consumer.js';
import { DelayQueues } from './delay-queues.js';
import { attemptOf, RabbitMQDelivery, type RequeueTarget } from './delivery.js';
import { GetChannel, type GetChannelOwner } from './get-channel.js';
import type { Holder } from './holder.js';
import type { QueueContext } from './queue-context.js';

// A put refused by a full queue (reject-publish) retries with this backoff until its timeout.
const FULL_RETRY_FIRST_MS = 10;
const FULL_RETRY_MAX_MS = 200;
// Undecodable messages skipped by one get before it gives up on the queue.
const MAX_UNDECODABLE_PER_GET = 10_000;

// close() re-checks the connection this often while waiting for pending puts, for at most a minute.
const CLOSE_WAIT_STEP_MS = 100;
const MAX_CLOSE_WAIT_STEPS = 600;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * A RabbitMQ queue behind the `DistributedQueue` contract. `options` is undefined when the queue
 * was opened as it exists (declared without options by this handle).
 */
export class RabbitMQQueue<T> implements DistributedQueue<T>, RequeueTarget, GetChannelOwner {
  private closed = false;
  private readonly gets: GetChannel;
  private readonly consumers = new Set<ChannelConsumer>();
  private pendingPuts = 0;
  private putsSettled: (() => void) | undefined;
  private readonly delayQueues: DelayQueues;
  private deadQueue: Promise<void> | undefined;

  constructor(
    private readonly context: QueueContext,
    readonly name: string,
    private readonly options: RabbitQueueOptions | undefined,
  ) {
    this.gets = new GetChannel(context.amqp, this);
    this.delayQueues = new DelayQueues(context.amqp, name, context.durable);
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
    return this.send(content, this.properties(priority), options);
  }

  async putMany(items: Iterable<T>, options: PutOptions = {}): Promise<void> {
    this.assertOpen();
    checkPutOptions(options);
    const priority = checkPriority(options.priority);
    const contents = Array.from(items, (item) => toBuffer(this.context.codec.encode(item)));
    // Published back to back on the confirm channel; the broker confirms them in batches.
    await Promise.all(contents.map((content) => this.send(content, this.properties(priority), options)));
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
        for (const name of this.delayQueues.names()) {
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
    for (const name of [this.name, ...this.delayQueues.names()]) {
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
    const delayQueues = this.delayQueues.names();
    await this.close();
    const { amqp } = this.context;
    try {
      for (const name of [this.name, ...delayQueues]) {
        await amqp.withChannel((channel) => channel.deleteQueue(name));
      }
      await amqp.withChannel((channel) => channel.deleteExchange(optionsExchangeName(this.name)));
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
    // Wait for pending puts while the broker can still confirm them; puts waiting for a
    // reconnect are rejected with ConnectionClosedError when the connection closes.
    const settled = new Promise<void>((resolve) => {
      this.putsSettled = resolve;
    });
    for (let i = 0; i < MAX_CLOSE_WAIT_STEPS && this.pendingPuts > 0 && this.context.amqp.connected; i++) {
      await Promise.race([settled, sleep(CLOSE_WAIT_STEP_MS)]);
    }
    await this.gets.close();
    return () =>
      this.gets.rejectWaiting(new ConnectionClosedError(`queue "${this.name}" was closed while waiting`));
  }

  async publishCopy(message: Message, attempt: number, delayMs: number): Promise<boolean> {
    const properties: Options.Publish = {
      ...message.properties,
      headers: { ...message.properties.headers, [ATTEMPT_HEADER]: attempt },
    };
    const routingKey = delayMs > 0 ? await this.delayQueues.nameFor(delayMs) : this.name;
    const outcome = await this.context.publisher.publish('', routingKey, message.content, properties);
    return outcome === 'ack';
  }

  /**
   * Give `message` back without counting this delivery: a confirmed copy whose header records the
   * deliveries before this one goes to the back of the queue, then the original is acked. A
   * message the broker redelivered (its channel closed unsettled: a crashed or closed consumer)
   * always comes through here before any handler sees it, because `redelivered` is a flag and
   * cannot count a second crash. Resolves false when the broker refused the copy (a full queue):
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

  private properties(priority: number): Options.Publish {
    const properties: Options.Publish = {
      persistent: this.context.durable,
      messageId: this.context.nextId(),
    };
    if (priority > 0) properties.priority = priority;
    return properties;
  }

  /** Publish and wait for the confirm; on a full queue, wait for room until the put's timeout. */
  private send(content: Buffer, properties: Options.Publish, options: PutOptions): Promise<void> {
    const delayMs = Math.round(options.delayMs ?? 0);
    // Only a put with a timeout needs its start time (read once per put, not on the hot path).
    const startedAt = options.timeoutMs === undefined ? 0 : Date.now();
    const publisher = this.context.publisher;
    this.pendingPuts++;
    const sent =
      delayMs > 0
        ? this.delayQueues.nameFor(delayMs).then((key) => publisher.publish('', key, content, properties))
        : publisher.publish('', this.name, content, properties);
    // One reaction per put on the confirmed path; the full-queue path is the slow one.
    return sent.then(
      (outcome) => {
        if (outcome === 'ack') return this.putDone();
        return this.waitForRoom(content, properties, options, startedAt).finally(() => this.putDone());
      },
      (error: unknown) => {
        this.putDone();
        throw error;
      },
    );
  }

  private putDone(): void {
    if (--this.pendingPuts === 0) this.putsSettled?.();
  }

  private async waitForRoom(
    content: Buffer,
    properties: Options.Publish,
    options: PutOptions,
    startedAt: number,
  ): Promise<void> {
    // A nack from a queue with x-overflow reject-publish means it is full: retry with backoff.
    const deadline = options.timeoutMs === undefined ? Infinity : startedAt + options.timeoutMs;
    const routingKey = options.delayMs
      ? await this.delayQueues.nameFor(Math.round(options.delayMs))
      : this.name;
    for (let wait = FULL_RETRY_FIRST_MS; ; wait = Math.min(wait * 2, FULL_RETRY_MAX_MS)) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        const limit = this.options?.maxsize ? ` (maxsize ${this.options.maxsize})` : '';
        throw new QueueFullError(`queue "${this.name}" is full${limit}`);
      }
      if (this.closed)
        throw new ConnectionClosedError(`queue "${this.name}" was closed while waiting for room`);
      await sleep(Math.min(wait, remaining));
      if ((await this.context.publisher.publish('', routingKey, content, properties)) === 'ack') return;
    }
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
      throw new ConnectionClosedError(`queue "${this.name}" is closed`);
    }
  }
}

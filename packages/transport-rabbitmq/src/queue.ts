import {
  type Codec,
  ConnectionClosedError,
  type ConsumeOptions,
  type ConsumerHandle,
  checkOptionalDuration,
  checkPriority,
  type Delivery,
  type DeliveryHandler,
  type DistributedQueue,
  type GetOptions,
  type LongTimeout,
  type PutOptions,
  QueueEmptyError,
  QueueFullError,
  runHandler,
  setLongTimeout,
} from '@taskwire/core';
import type { Message, Options } from 'amqplib';
import {
  ATTEMPT_HEADER,
  DELAY_QUEUE_IDLE_MS,
  deadLetterTarget,
  delayBucket,
  delayQueueArguments,
  delayQueueName,
  optionsExchangeName,
  type ResolvedQueueOptions,
} from './arguments.js';
import { Consumer } from './consumer.js';
import { attemptOf, Holder, RabbitMQDelivery, type RequeueTarget } from './delivery.js';
import type { Link } from './link.js';
import type { Publisher } from './publisher.js';

/** What a queue handle shares with its connection. */
export interface QueueContext {
  readonly link: Link;
  readonly publisher: Publisher;
  readonly codec: Codec;
  /** Durable queues and persistent messages. */
  readonly durable: boolean;
  /** `prefetch` of `consume()` when not given. */
  readonly prefetch: number;
  /** A new item id, unique across processes. */
  nextId(): string;
}

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

/** One taken message or why there is none. */
type Taken = Message | 'empty' | 'lost';

/**
 * A RabbitMQ queue behind the `DistributedQueue` contract. `options` is undefined when the queue
 * was opened as it exists (declared without options by this handle).
 */
export class RabbitMQQueue<T> implements DistributedQueue<T>, RequeueTarget {
  private closed = false;
  private getHolder: Promise<Holder> | undefined;
  private readonly waitingGets = new Set<(error: Error) => void>();
  private readonly consumers = new Set<Consumer>();
  private pendingPuts = 0;
  private putsSettled: (() => void) | undefined;
  private readonly delayQueues = new Map<number, { name: string; declaredAt: number }>();
  private deadQueue: Promise<void> | undefined;

  constructor(
    private readonly context: QueueContext,
    readonly name: string,
    private readonly options: ResolvedQueueOptions | undefined,
  ) {}

  put(item: T, options: PutOptions = {}): Promise<void> {
    let content: Buffer;
    let priority: number;
    try {
      this.assertOpen();
      checkPutDurations(options);
      priority = checkPriority(options.priority);
      content = toBuffer(this.context.codec.encode(item));
    } catch (error) {
      return Promise.reject(error);
    }
    return this.send(content, this.properties(priority), options);
  }

  async putMany(items: Iterable<T>, options: PutOptions = {}): Promise<void> {
    this.assertOpen();
    checkPutDurations(options);
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
      const holder = await this.holderForGets();
      const remaining = deadline === undefined ? undefined : Math.max(0, deadline - Date.now());
      const taken = remaining === 0 ? await this.takeNow(holder) : await this.takeOne(holder, remaining);
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
    const prefetch = options.prefetch ?? this.context.prefetch;
    if (!Number.isInteger(prefetch) || prefetch < 1) throw new TypeError('prefetch must be an integer ≥ 1');
    const consumer = new Consumer(
      this.context.link,
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
    return this.context.link.withChannel(async (channel) => {
      let total = (await channel.checkQueue(this.name)).messageCount;
      for (const delay of this.delayQueues.values()) {
        total += (await channel.checkQueue(delay.name).catch(() => ({ messageCount: 0 }))).messageCount;
      }
      return total;
    });
  }

  async purge(): Promise<number> {
    this.assertOpen();
    let removed = 0;
    for (const name of [this.name, ...[...this.delayQueues.values()].map((delay) => delay.name)]) {
      removed += await this.context.link
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
    const delayQueues = [...this.delayQueues.values()].map((delay) => delay.name);
    await this.close();
    const { link } = this.context;
    for (const name of [this.name, ...delayQueues]) {
      await link.withChannel((channel) => channel.deleteQueue(name));
    }
    await link.withChannel((channel) => channel.deleteExchange(optionsExchangeName(this.name)));
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
    for (let i = 0; i < MAX_CLOSE_WAIT_STEPS && this.pendingPuts > 0 && this.context.link.connected; i++) {
      await Promise.race([settled, sleep(CLOSE_WAIT_STEP_MS)]);
    }
    const holder = await this.getHolder?.catch(() => undefined);
    await holder?.close();
    return () => {
      const closed = new ConnectionClosedError(`queue "${this.name}" was closed while waiting`);
      for (const reject of [...this.waitingGets]) reject(closed);
    };
  }

  async publishCopy(message: Message, attempt: number, delayMs: number): Promise<boolean> {
    const properties: Options.Publish = {
      ...message.properties,
      headers: { ...message.properties.headers, [ATTEMPT_HEADER]: attempt },
    };
    const routingKey = delayMs > 0 ? await this.delayQueue(delayMs) : this.name;
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
        ? this.delayQueue(delayMs).then((key) => publisher.publish('', key, content, properties))
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
    const routingKey = options.delayMs ? await this.delayQueue(Math.round(options.delayMs)) : this.name;
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

  /** Declare (or refresh) the TTL queue for `delayMs`; returns its name. */
  private async delayQueue(requestedMs: number): Promise<string> {
    const delayMs = delayBucket(requestedMs);
    const known = this.delayQueues.get(delayMs);
    // Redeclare well before x-expires could delete a queue that still holds items.
    if (known && Date.now() - known.declaredAt < DELAY_QUEUE_IDLE_MS / 2) return known.name;
    const name = delayQueueName(this.name, delayMs);
    await this.context.link.withChannel((channel) =>
      channel.assertQueue(name, {
        durable: this.context.durable,
        arguments: delayQueueArguments(this.name, delayMs),
      }),
    );
    this.delayQueues.set(delayMs, { name, declaredAt: Date.now() });
    return name;
  }

  private holderForGets(): Promise<Holder> {
    const current = this.getHolder;
    if (current) {
      return current.then(
        (holder) => (holder.alive ? holder : this.openGetHolder()),
        () => this.openGetHolder(),
      );
    }
    return this.openGetHolder();
  }

  private openGetHolder(): Promise<Holder> {
    const opened = (async () => {
      const channel = await this.context.link.channel();
      // Per-consumer prefetch 1: each waiting get's temporary consumer takes exactly one item.
      await channel.prefetch(1);
      return new Holder(channel);
    })();
    this.getHolder = opened;
    return opened;
  }

  private async takeNow(holder: Holder): Promise<Taken> {
    try {
      const message = await holder.channel.get(this.name, { noAck: false });
      if (!message) return 'empty';
      holder.received(message);
      return message;
    } catch {
      if (holder.alive) throw new ConnectionClosedError(`queue "${this.name}": get failed`);
      return 'lost';
    }
  }

  /** Wait for one item with a temporary prefetch-1 consumer. */
  private takeOne(holder: Holder, timeoutMs: number | undefined): Promise<Taken> {
    const { channel } = holder;
    return new Promise<Taken>((resolve, reject) => {
      let done = false;
      let timer: LongTimeout | undefined;
      const finish = (result: Taken | Error) => {
        if (done) return;
        done = true;
        timer?.clear();
        channel.off('close', onClose);
        this.waitingGets.delete(finish);
        void consumed
          .then((ok) => (holder.alive ? channel.cancel(ok.consumerTag) : undefined))
          .catch(() => undefined);
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      // While closing, a waiting get stays pending until shutdown's finaliser rejects it.
      const onClose = () => {
        if (!this.closed) finish('lost');
      };
      channel.once('close', onClose);
      this.waitingGets.add(finish);
      const consumed = channel.consume(
        this.name,
        (message) => {
          if (!message) return finish('lost');
          holder.received(message);
          // Rare: after this get was satisfied its consumer received a second item before the
          // cancel took effect. Hand it straight back, uncounted.
          if (done) {
            void this.passBack(message, holder).then((passed) => passed || holder.reject(message, true));
            return;
          }
          finish(message);
        },
        { noAck: false },
      );
      consumed.catch(() =>
        finish(holder.alive ? new ConnectionClosedError(`queue "${this.name}" is gone`) : 'lost'),
      );
      if (timeoutMs !== undefined) {
        timer = setLongTimeout(async () => {
          // Cancel first: an item that arrives before the cancel completes is still taken.
          const ok = await consumed.catch(() => undefined);
          if (ok && holder.alive) await channel.cancel(ok.consumerTag).catch(() => undefined);
          finish('empty');
        }, timeoutMs);
      }
    });
  }

  /** Decode `message` into a delivery; an undecodable one is dead-lettered (undefined). */
  private toDelivery(message: Message, holder: Holder): RabbitMQDelivery<T> | undefined {
    let body: T;
    try {
      body = this.context.codec.decode(message.content) as T;
    } catch {
      void this.deadLetterUndecodable(message, holder);
      return undefined;
    }
    const id = message.properties.messageId ?? `${this.name}:${message.fields.deliveryTag}`;
    return new RabbitMQDelivery(
      this,
      holder,
      message,
      String(id),
      body,
      this.options?.visibilityTimeoutMs ?? 0,
    );
  }

  private async deadLetterUndecodable(message: Message, holder: Holder): Promise<void> {
    // The queue's dead-letter exchange routes to deadLetter or `<name>.dead`; make sure the
    // latter exists so the message is kept, not dropped.
    if (!this.options?.deadLetter) {
      this.deadQueue ??= this.context.link
        .withChannel(async (channel) => {
          await channel.assertQueue(deadLetterTarget(this.name, undefined), {
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
  }

  private assertOpen(): void {
    if (this.closed || !this.context.link.usable) {
      throw new ConnectionClosedError(`queue "${this.name}" is closed`);
    }
  }
}

/** Refuse bad put durations before anything is published. */
function checkPutDurations(options: PutOptions): void {
  checkOptionalDuration(options.delayMs, 'delayMs');
  checkOptionalDuration(options.timeoutMs, 'timeoutMs');
}

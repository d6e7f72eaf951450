import { randomUUID } from 'node:crypto';
import {
  type Codec,
  ConnectionClosedError,
  type ConsumeOptions,
  type ConsumerHandle,
  type Delivery,
  type DeliveryHandler,
  type DistributedQueue,
  type GetOptions,
  type NackOptions,
  type PutOptions,
  QueueEmptyError,
  QueueFullError,
} from '@taskwire/core';
import {
  BaseDelivery,
  checkPriority,
  checkPutOptions,
  decodeOrDeadLetter,
  type ResolvedQueueOptions,
  resolvePrefetch,
  runHandler,
  TickBatcher,
  UNDECODABLE,
  undecodableTarget,
} from '@taskwire/core/transport';
import type { HeldItem, ItemStore, Order } from './store.js';
import type { Wakeups } from './wakeups.js';

/** What a queue needs from its connection. */
export interface QueueContext {
  readonly store: ItemStore;
  readonly codec: Codec;
  readonly wakeups: Wakeups;
  /** This connection's id: the owner of the items it holds. */
  readonly owner: string;
  /** How long a held item of a queue without a visibility timeout survives its connection's last heartbeat. */
  readonly leaseMs: number;
  /** How often to look for items another process put. */
  readonly pollMs: number;
  /** False once the connection closed or was abandoned: a settle is then a no-op (the item comes back anyway). */
  readonly isOpen: boolean;
  /** Declare `name` (a dead-letter queue) with default options. */
  declare(name: string): Order;
  assertOpen(): void;
}

class SqliteDelivery<T> extends BaseDelivery<T> {
  /** Called once when settled (a consumer counts its unsettled deliveries against its prefetch). */
  whenSettled: (() => void) | undefined;
  constructor(
    private readonly queue: SqliteQueue<T>,
    readonly item: HeldItem,
    readonly body: T,
  ) {
    super();
  }
  get id(): string {
    return this.item.id;
  }
  get attempt(): number {
    return this.item.attempt;
  }
  protected override onSettled(): void {
    this.whenSettled?.();
  }
  protected settleAck(): Promise<void> {
    return this.queue.ack(this);
  }
  protected async settleNack(options: NackOptions): Promise<void> {
    this.queue.nack(this, options);
  }
}

/** A queue in the SQLite file. Waits (a full queue, an empty one) poll, and wake at once for this process's puts. */
export class SqliteQueue<T> implements DistributedQueue<T> {
  private readonly order: Order;
  private readonly consumers = new Set<ConsumerHandle>();
  /** Unsettled deliveries: closing the handle gives them back. */
  private readonly held = new Set<SqliteDelivery<T>>();
  /** Acks of one turn go in one transaction: a write transaction per ack would make the processes queue for the lock. */
  private readonly acks = new TickBatcher<HeldItem>((items) => {
    const { store } = this.context;
    if (!this.context.isOpen) return;
    store.transaction(() => {
      for (const item of items) store.ack(item.rowid, item.token);
    });
    this.context.wakeups.notify();
  });
  private closed = false;

  constructor(
    private readonly context: QueueContext,
    readonly name: string,
    private readonly options: ResolvedQueueOptions,
  ) {
    this.order = { queue: name, lifo: options.order === 'lifo' };
  }

  put(item: T, options?: PutOptions): Promise<void> {
    return this.putMany([item], options);
  }

  async putMany(items: Iterable<T>, options: PutOptions = {}): Promise<void> {
    this.assertOpen();
    const priority = checkPriority(options.priority);
    checkPutOptions(options);
    const { delayMs = 0, timeoutMs } = options;
    const payloads = Array.from(items, (item) => this.context.codec.encode(item));
    const { store, wakeups } = this.context;
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    for (let next = 0; next < payloads.length; ) {
      const stored = store.transaction(() => {
        const room = this.options.maxsize ? this.options.maxsize - store.count(this.name) : payloads.length;
        const batch = payloads.slice(next, next + Math.max(0, room));
        const ids = batch.map(() => randomUUID());
        store.insert(
          this.order,
          ids,
          batch,
          this.options.order === 'priority' ? priority : 0,
          Date.now() + delayMs,
        );
        return batch.length;
      });
      next += stored;
      if (stored) wakeups.notify();
      if (next === payloads.length) break;
      if (Date.now() >= deadline)
        throw new QueueFullError(`queue "${this.name}" is full (maxsize ${this.options.maxsize})`);
      await wakeups.wait(Math.min(this.context.pollMs, deadline - Date.now()));
      this.assertOpen();
    }
  }

  async get(options: GetOptions = {}): Promise<Delivery<T>> {
    checkPutOptions(options);
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    for (;;) {
      this.assertOpen();
      const [delivery] = this.take(1);
      if (delivery) return delivery;
      if (Date.now() >= deadline) throw new QueueEmptyError(`queue "${this.name}" is empty`);
      await this.context.wakeups.wait(this.waitMs(deadline));
    }
  }

  async consume(handler: DeliveryHandler<T>, options: ConsumeOptions = {}): Promise<ConsumerHandle> {
    this.assertOpen();
    const prefetch = resolvePrefetch(options.prefetch);
    let unsettled = 0;
    let cancelled = false;
    const settled = () => {
      unsettled--;
      this.context.wakeups.notify();
    };
    const loop = async () => {
      while (!cancelled && !this.closed && this.context.isOpen) {
        const deliveries = unsettled < prefetch ? this.take(prefetch - unsettled) : [];
        for (const delivery of deliveries) {
          unsettled++;
          delivery.whenSettled = settled;
          void runHandler(handler, delivery);
        }
        if (deliveries.length === 0) await this.context.wakeups.wait(this.waitMs(Infinity));
      }
    };
    const running = loop();
    const handle: ConsumerHandle = {
      cancel: async () => {
        cancelled = true;
        this.context.wakeups.notify();
        await running;
        this.consumers.delete(handle);
      },
    };
    this.consumers.add(handle);
    return handle;
  }

  async size(): Promise<number> {
    this.assertOpen();
    return this.context.store.count(this.name);
  }

  async purge(): Promise<number> {
    this.assertOpen();
    return this.context.store.purge(this.name);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const consumer of this.consumers) await consumer.cancel();
    this.closed = true;
    this.acks.flush();
    for (const delivery of this.held) await delivery.nack({ requeue: true, countAttempt: true });
  }

  async delete(): Promise<void> {
    await this.close();
    this.context.store.drop(this.name);
  }

  ack(delivery: SqliteDelivery<T>): Promise<void> {
    this.held.delete(delivery);
    const done = this.acks.nextFlush();
    this.acks.add(delivery.item);
    return done;
  }

  nack(delivery: SqliteDelivery<T>, options: NackOptions): void {
    const { store } = this.context;
    const { item } = delivery;
    this.held.delete(delivery);
    if (!this.context.isOpen) return;
    if (options.requeue ?? true) {
      const readyAt = Date.now() + (options.delayMs ?? 0);
      store.transaction(() =>
        store.requeue(this.order, item.rowid, item.token, readyAt, options.countAttempt === false),
      );
    } else if (this.options.deadLetter) {
      this.deadLetter(item, this.options.deadLetter);
    } else {
      store.ack(item.rowid, item.token);
    }
    this.context.wakeups.notify();
  }

  /** Hold up to `limit` items; an undecodable one is dead-lettered, never handed out. */
  private take(limit: number): SqliteDelivery<T>[] {
    const { store, owner, leaseMs, codec } = this.context;
    const now = Date.now();
    const visibility = this.options.visibilityTimeoutMs;
    if (!store.hasDue(this.name, now)) return [];
    const items = store.transaction(() =>
      store.take(this.order, owner, limit, now, now + (visibility || leaseMs), visibility === 0),
    );
    const deliveries: SqliteDelivery<T>[] = [];
    for (const item of items) {
      const body = decodeOrDeadLetter(codec, item.payload, this.deadLetterUndecodable, item);
      if (body === UNDECODABLE) continue;
      const delivery = new SqliteDelivery(this, item, body as T);
      this.held.add(delivery);
      deliveries.push(delivery);
    }
    return deliveries;
  }

  private readonly deadLetterUndecodable = (item: HeldItem) =>
    this.deadLetter(item, undecodableTarget(this.name, this.options.deadLetter));

  private deadLetter(item: HeldItem, queue: string): void {
    const { store } = this.context;
    const target = this.context.declare(queue);
    store.transaction(() => store.moveTo(target, item.rowid, item.token));
  }

  /** How long an idle taker sleeps: until the next delayed item, a poll, or `deadline`. */
  private waitMs(deadline: number): number {
    const now = Date.now();
    const nextReady = this.context.store.nextReadyAt(this.name) ?? Infinity;
    return Math.max(1, Math.min(this.context.pollMs, nextReady - now, deadline - now));
  }

  private assertOpen(): void {
    this.context.assertOpen();
    if (this.closed) throw new ConnectionClosedError(`queue "${this.name}" is closed`);
  }
}

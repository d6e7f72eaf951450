import { checkOptionalDuration } from '../duration.js';
import { ConnectionClosedError, QueueEmptyError, QueueFullError } from '../errors.js';
import { checkPriority, type ResolvedQueueOptions, resolvePrefetch } from '../kit/queue-options.js';
import { undecodableTarget } from '../kit/undecodable.js';
import {
  type EngineItem,
  type EnginePutOptions,
  type PeekedEngineItem,
  StoredItem,
  type TaggedItem,
} from './engine-item.js';
import { ReadyItems } from './engine-ready.js';
import {
  ConsumerRing,
  EngineConsumer,
  type EngineSession,
  type InFlight,
  type SessionQueue,
} from './engine-session.js';
import { DelayedItems, VisibilityDeadlines } from './engine-timers.js';
import { type GetWaiter, type PutWaiter, Waiters } from './engine-waiters.js';

/** What a queue needs from the engine that holds it. */
export interface EngineQueueHost<V> {
  /** Prefix of every item id the engine generates. */
  readonly idPrefix: string;
  nextSeq(): number;
  nextTag(): number;
  /** The queue named `name` (declared with defaults if new): where dead letters go. */
  queue(name: string): EngineQueue<V>;
}

/**
 * One named queue of a `MemoryEngine`. Costs: fifo/lifo O(1), priority and delays O(log n), one timer
 * per queue for delays and one for visibility timeouts (never one per item).
 */
export class EngineQueue<V> implements SessionQueue<V> {
  private readonly ready: ReadyItems<V>;
  private readonly delayed: DelayedItems<StoredItem<V>>;
  private readonly deadlines: VisibilityDeadlines<InFlight<V>>;
  private readonly getWaiters = new Waiters<GetWaiter<V>>();
  private readonly putWaiters = new Waiters<PutWaiter<V>>();
  private readonly consumers = new ConsumerRing<V>();
  private dispatching = false;
  private held = 0;

  constructor(
    private readonly engine: EngineQueueHost<V>,
    readonly name: string,
    readonly options: ResolvedQueueOptions,
  ) {
    this.ready = new ReadyItems(
      options.order,
      (value, priority, id) => new StoredItem(engine.idPrefix, value, priority, engine.nextSeq(), id),
    );
    this.delayed = new DelayedItems(
      (item) => this.ready.push(item),
      () => this.dispatch(),
    );
    this.deadlines = new VisibilityDeadlines(
      // Requeue only a delivery still held: anything else already went back or was settled.
      (delivery) => {
        if (this.settle(delivery.session, delivery.tag)) this.ready.requeue(delivery.item);
      },
      () => this.dispatch(),
    );
  }

  /** Items ready plus items delayed. */
  get size(): number {
    return this.ready.length + this.delayed.length;
  }

  /** Items that can be taken now. */
  get readyCount(): number {
    return this.ready.length;
  }

  /** Items waiting out a delay. */
  get delayedCount(): number {
    return this.delayed.length;
  }

  /** Deliveries not settled yet. */
  get inFlight(): number {
    return this.held;
  }

  /** Push consumers registered on this queue. */
  get consumerCount(): number {
    return this.consumers.length;
  }

  /** How many more items fit before the queue is full (Infinity when unbounded). */
  get room(): number {
    return this.options.maxsize > 0 ? Math.max(0, this.options.maxsize - this.size) : Infinity;
  }

  /** Up to `limit` items, left in place: the ready ones in serving order, then the delayed ones, soonest first. */
  peek(limit: number): PeekedEngineItem<V>[] {
    const priority = (item: StoredItem<V>) => (this.ready.prioritised ? { priority: item.priority } : {});
    const shown: PeekedEngineItem<V>[] = this.ready.peek(limit).map((item) => ({
      id: item.id,
      value: item.value,
      attempts: item.attempt,
      state: 'ready',
      ...priority(item),
    }));
    for (const { dueAt, item } of this.delayed.peek(limit - shown.length)) {
      shown.push({
        id: item.id,
        value: item.value,
        attempts: item.attempt,
        state: 'delayed',
        readyAt: dueAt,
        ...priority(item),
      });
    }
    return shown;
  }

  /**
   * Remove up to `max` ready or delayed items in serving order (ready ones first), only those `match` accepts: the
   * source side of a move. Puts waiting for room are let in.
   */
  takeItems(max: number, match?: (item: EngineItem<V>) => boolean): EngineItem<V>[] {
    const taken: EngineItem<V>[] = this.ready.take(max, match);
    if (taken.length < max) taken.push(...this.delayed.take(max - taken.length, match));
    if (taken.length > 0) this.admitPutWaiters();
    return taken;
  }

  /**
   * Add moved items as fresh ready items (attempts start again), keeping each id, and its priority on a priority
   * queue: the target side of a move. The caller has checked {@link room}.
   */
  addMoved(items: readonly EngineItem<V>[]): void {
    for (const item of items) {
      const priority = this.ready.prioritised ? item.priority : 0;
      this.ready.push(
        new StoredItem(this.engine.idPrefix, item.value, priority, this.engine.nextSeq(), item.id),
      );
    }
    this.dispatch();
  }

  private get full(): boolean {
    return this.options.maxsize > 0 && this.size >= this.options.maxsize;
  }

  /**
   * Add an item now if there is room. Returns false when the queue is full (and nothing changed).
   */
  tryPut(value: V, options: EnginePutOptions = {}): boolean {
    checkOptionalDuration(options.delayMs, 'delayMs');
    if (!options.force && (this.full || this.putWaiters.length > 0)) return false;
    this.insert(value, options);
    return true;
  }

  /** Add an item, waiting for room up to `timeoutMs` (0 = never wait, undefined = forever). */
  put(value: V, options: EnginePutOptions = {}, session?: EngineSession): Promise<void> {
    if (session?.closed) return Promise.reject(new ConnectionClosedError('connection is closed'));
    checkOptionalDuration(options.timeoutMs, 'timeoutMs');
    if (this.tryPut(value, options)) return Promise.resolve();
    if (options.timeoutMs === 0) return Promise.reject(this.fullError());
    return new Promise((resolve, reject) => {
      const waiter: PutWaiter<V> = { value, options, resolve, reject, session, timer: undefined };
      if (session) session.queues.add(this);
      this.putWaiters.add(waiter, options.timeoutMs, () => reject(this.fullError()));
    });
  }

  /** Take an item now, or undefined when none is ready. */
  tryTake(session: EngineSession): TaggedItem<V> | undefined {
    const item = this.ready.pop();
    if (!item) return undefined;
    const taken = this.deliver(item, session, undefined);
    this.admitPutWaiters();
    return taken;
  }

  /** Take an item, waiting up to `timeoutMs` (undefined = until one arrives or the session closes). */
  get(session: EngineSession, timeoutMs?: number): Promise<TaggedItem<V>> {
    if (session.closed) return Promise.reject(new ConnectionClosedError('connection is closed'));
    checkOptionalDuration(timeoutMs, 'timeoutMs');
    const taken = this.tryTake(session);
    if (taken) return Promise.resolve(taken);
    if (timeoutMs === 0) return Promise.reject(this.emptyError(0));
    return new Promise((resolve, reject) => {
      const waiter: GetWaiter<V> = { session, resolve, reject, timer: undefined };
      session.queues.add(this);
      this.getWaiters.add(waiter, timeoutMs, () => reject(this.emptyError(timeoutMs!)));
    });
  }

  /** Register a push consumer. */
  consume(
    session: EngineSession,
    prefetch: number,
    onDelivery: (taken: TaggedItem<V>) => void,
  ): EngineConsumer<V> {
    if (session.closed) throw new ConnectionClosedError('connection is closed');
    const consumer = new EngineConsumer(this, session, resolvePrefetch(prefetch), onDelivery);
    this.consumers.add(consumer);
    session.consumers.add(consumer);
    session.queues.add(this);
    this.dispatch();
    return consumer;
  }

  /** @internal */
  removeConsumer(consumer: EngineConsumer<V>): void {
    this.consumers.remove(consumer);
    consumer.session.consumers.delete(consumer);
  }

  /** @internal */
  resumeConsumer(_consumer: EngineConsumer<V>): void {
    this.dispatch();
  }

  /** Remove a delivered item for good. False when the tag is unknown (already settled or expired). */
  ack(session: EngineSession, tag: number): boolean {
    const delivery = this.settle(session, tag);
    if (!delivery) return false;
    this.dispatch();
    return true;
  }

  /**
   * Give a delivered item back (`requeue`, optionally after `delayMs`) or dead-letter it.
   * `undecodable` dead-letters to `<name>.dead` when the queue has no dead-letter queue.
   */
  nack(
    session: EngineSession,
    tag: number,
    options: { requeue?: boolean; delayMs?: number; countAttempt?: boolean; undecodable?: boolean } = {},
  ): boolean {
    checkOptionalDuration(options.delayMs, 'delayMs');
    const delivery = this.settle(session, tag);
    if (!delivery) return false;
    const { item } = delivery;
    if (options.requeue ?? true) {
      // Given back as never started: the next delivery keeps this one's attempt number.
      if (options.countAttempt === false) item.attempt--;
      if (options.delayMs && options.delayMs > 0) this.delayed.add(item, Date.now() + options.delayMs);
      else this.ready.requeue(item);
    } else {
      const target = options.undecodable
        ? undecodableTarget(this.name, this.options.deadLetter)
        : this.options.deadLetter;
      if (target !== undefined) {
        this.engine.queue(target).tryPut(item.value, { force: true, id: item.id, priority: item.priority });
      }
    }
    this.dispatch();
    return true;
  }

  /** Remove every ready and delayed item; returns how many. */
  purge(): number {
    const removed = this.size;
    this.ready.clear();
    this.delayed.clear();
    this.admitPutWaiters();
    return removed;
  }

  /** @internal Reject a closing session's waiters. */
  dropSession(session: EngineSession): void {
    const closed = () => new ConnectionClosedError('connection closed while waiting');
    this.getWaiters.dropSession(session, closed);
    this.putWaiters.dropSession(session, closed);
  }

  /** @internal Return an unsettled delivery of a closed session to the queue. */
  returnDelivery(delivery: InFlight<V>): void {
    if (delivery.consumer) delivery.consumer.outstanding--;
    this.held--;
    // Its visibility deadline ends with it: left armed, it would requeue the item again later,
    // while the next taker holds it or after that taker acked it.
    delivery.deadline = 0;
    this.ready.requeue(delivery.item);
    this.dispatch();
  }

  /** @internal */
  dispose(): void {
    this.delayed.stopTimer();
    this.deadlines.dispose();
  }

  private insert(value: V, options: EnginePutOptions): void {
    const priority = this.ready.prioritised ? checkPriority(options.priority) : 0;
    const delayed = options.delayMs !== undefined && options.delayMs > 0;
    if (delayed || options.id !== undefined || !this.ready.pushValue(value)) {
      const item = new StoredItem(this.engine.idPrefix, value, priority, this.engine.nextSeq(), options.id);
      if (delayed) {
        this.delayed.add(item, Date.now() + options.delayMs!);
        return;
      }
      this.ready.push(item);
    }
    this.dispatch();
  }

  private deliver(
    item: StoredItem<V>,
    session: EngineSession,
    consumer: EngineConsumer<V> | undefined,
  ): TaggedItem<V> {
    item.attempt++;
    this.held++;
    const tag = this.engine.nextTag();
    const deadline = this.options.visibilityTimeoutMs > 0 ? Date.now() + this.options.visibilityTimeoutMs : 0;
    const delivery: InFlight<V> = { tag, item, queue: this, session, consumer, deadline };
    session.inFlight.set(tag, delivery);
    if (consumer) consumer.outstanding++;
    if (deadline) this.deadlines.track(delivery);
    return { tag, item };
  }

  private settle(session: EngineSession, tag: number): InFlight<V> | undefined {
    const delivery = session.inFlight.get(tag);
    if (!delivery || delivery.queue !== this) return undefined;
    session.inFlight.delete(tag);
    this.held--;
    if (delivery.consumer) delivery.consumer.outstanding--;
    delivery.deadline = 0;
    return delivery;
  }

  /** Hand ready items to waiting gets first, then round-robin to consumers with capacity. */
  private dispatch(): void {
    // A consumer may settle synchronously inside onDelivery, which calls dispatch again; the
    // outer loop picks up the freed capacity instead of recursing once per item.
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      this.dispatchLoop();
    } finally {
      this.dispatching = false;
    }
  }

  private dispatchLoop(): void {
    for (;;) {
      let delivered = false;
      while (this.ready.length > 0) {
        const waiter = this.getWaiters.next();
        if (waiter) {
          waiter.resolve(this.deliver(this.ready.pop()!, waiter.session, undefined));
          delivered = true;
          continue;
        }
        const consumer = this.consumers.pick();
        if (!consumer) break;
        consumer.onDelivery(this.deliver(this.ready.pop()!, consumer.session, consumer));
        delivered = true;
      }
      // Taking made room: admit waiting puts, then serve what they added.
      if (!delivered || !this.admitPutWaiters()) return;
    }
  }

  /** Move waiting puts in while there is room; true when any was admitted. */
  private admitPutWaiters(): boolean {
    let admitted = false;
    while (this.putWaiters.length > 0 && !this.full) {
      const waiter = this.putWaiters.next()!;
      this.insert(waiter.value, waiter.options);
      waiter.resolve();
      admitted = true;
    }
    return admitted;
  }

  private fullError(): QueueFullError {
    return new QueueFullError(`queue "${this.name}" is full (maxsize ${this.options.maxsize})`);
  }

  private emptyError(timeoutMs: number): QueueEmptyError {
    return new QueueEmptyError(`queue "${this.name}" had nothing to take within ${timeoutMs} ms`);
  }
}

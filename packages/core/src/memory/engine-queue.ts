import { checkOptionalDuration } from '../duration.js';
import { ConnectionClosedError, QueueEmptyError, QueueFullError } from '../errors.js';
import { checkPriority, type ResolvedQueueOptions, resolvePrefetch } from '../kit/queue-options.js';
import { undecodableTarget } from '../kit/undecodable.js';
import { type LongTimeout, setLongTimeout } from '../timer.js';
import { Deque } from './deque.js';
import { type EnginePutOptions, StoredItem, type TaggedItem } from './engine-item.js';
import { EngineConsumer, type EngineSession, type InFlight } from './engine-session.js';
import { DelayedItems, VisibilityDeadlines } from './engine-timers.js';
import { Heap } from './heap.js';

/** What a queue needs from the engine that holds it. */
export interface EngineQueueHost<V> {
  /** Prefix of every item id the engine generates. */
  readonly idPrefix: string;
  nextSeq(): number;
  nextTag(): number;
  /** The queue named `name` (declared with defaults if new): where dead letters go. */
  queue(name: string): EngineQueue<V>;
}

interface GetWaiter<V> {
  readonly session: EngineSession;
  readonly resolve: (taken: TaggedItem<V>) => void;
  readonly reject: (error: Error) => void;
  timer: LongTimeout | undefined;
}

interface PutWaiter<V> {
  readonly value: V;
  readonly options: EnginePutOptions;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly session: EngineSession | undefined;
  timer: LongTimeout | undefined;
}

/**
 * One named queue of a `MemoryEngine`. Costs: fifo/lifo O(1), priority and delays O(log n), one timer
 * per queue for delays and one for visibility timeouts (never one per item).
 */
export class EngineQueue<V> {
  // A fifo/lifo list holds a fresh item as its bare value: no per-item object until it is taken
  // (its id is assigned then, which is the first time anyone can see it).
  private readonly list: Deque<StoredItem<V> | V> | undefined;
  private readonly heap: Heap<StoredItem<V>> | undefined;
  private readonly delayed: DelayedItems<StoredItem<V>>;
  private readonly deadlines: VisibilityDeadlines<InFlight<V>>;
  private readonly getWaiters = new Deque<GetWaiter<V>>();
  private readonly putWaiters = new Deque<PutWaiter<V>>();
  private consumers: EngineConsumer<V>[] = [];
  private nextConsumer = 0;
  private dispatching = false;

  constructor(
    private readonly engine: EngineQueueHost<V>,
    readonly name: string,
    readonly options: ResolvedQueueOptions,
  ) {
    if (options.order === 'priority') {
      this.heap = new Heap((a, b) => a.priority > b.priority || (a.priority === b.priority && a.seq < b.seq));
    } else {
      this.list = new Deque();
    }
    this.delayed = new DelayedItems(
      (item) => this.pushReady(item),
      () => this.dispatch(),
    );
    this.deadlines = new VisibilityDeadlines(
      // Requeue only a delivery still held: anything else already went back or was settled.
      (delivery) => {
        if (this.settle(delivery.session, delivery.tag)) this.requeue(delivery.item);
      },
      () => this.dispatch(),
    );
  }

  /** Items ready plus items delayed. */
  get size(): number {
    return this.readyCount + this.delayed.length;
  }

  private get readyCount(): number {
    return this.list ? this.list.length : this.heap!.length;
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
      if (options.timeoutMs !== undefined) {
        waiter.timer = setLongTimeout(() => {
          this.putWaiters.remove((w) => w === waiter);
          reject(this.fullError());
        }, options.timeoutMs);
      }
      if (session) session.queues.add(this);
      this.putWaiters.pushBack(waiter);
    });
  }

  /** Take an item now, or undefined when none is ready. */
  tryTake(session: EngineSession): TaggedItem<V> | undefined {
    const item = this.popReady();
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
      if (timeoutMs !== undefined) {
        waiter.timer = setLongTimeout(() => {
          this.getWaiters.remove((w) => w === waiter);
          reject(this.emptyError(timeoutMs));
        }, timeoutMs);
      }
      session.queues.add(this);
      this.getWaiters.pushBack(waiter);
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
    this.consumers.push(consumer);
    session.consumers.add(consumer);
    session.queues.add(this);
    this.dispatch();
    return consumer;
  }

  /** @internal */
  removeConsumer(consumer: EngineConsumer<V>): void {
    this.consumers = this.consumers.filter((c) => c !== consumer);
    consumer.session.consumers.delete(consumer);
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
      else this.requeue(item);
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
    this.list?.clear();
    this.heap?.clear();
    this.delayed.clear();
    this.admitPutWaiters();
    return removed;
  }

  /** @internal Reject a closing session's waiters. */
  dropSession(session: EngineSession): void {
    const closed = () => new ConnectionClosedError('connection closed while waiting');
    for (const waiter of [...this.getWaiters]) {
      if (waiter.session !== session) continue;
      this.getWaiters.remove((w) => w === waiter);
      waiter.timer?.clear();
      waiter.reject(closed());
    }
    for (const waiter of [...this.putWaiters]) {
      if (waiter.session !== session) continue;
      this.putWaiters.remove((w) => w === waiter);
      waiter.timer?.clear();
      waiter.reject(closed());
    }
  }

  /** @internal Return an unsettled delivery of a closed session to the queue. */
  returnDelivery(delivery: InFlight<V>): void {
    if (delivery.consumer) delivery.consumer.outstanding--;
    // Its visibility deadline ends with it: left armed, it would requeue the item again later,
    // while the next taker holds it or after that taker acked it.
    delivery.deadline = 0;
    this.requeue(delivery.item);
    this.dispatch();
  }

  /** @internal */
  dispose(): void {
    this.delayed.stopTimer();
    this.deadlines.dispose();
  }

  private insert(value: V, options: EnginePutOptions): void {
    const priority = this.heap ? checkPriority(options.priority) : 0;
    const delayed = options.delayMs !== undefined && options.delayMs > 0;
    if (this.list && !delayed && options.id === undefined) {
      this.list.pushBack(value);
    } else {
      const item = this.newItem(value, priority, options.id);
      if (delayed) {
        this.delayed.add(item, Date.now() + options.delayMs!);
        return;
      }
      this.pushReady(item);
    }
    this.dispatch();
  }

  private newItem(value: V, priority: number, id: string | undefined): StoredItem<V> {
    return new StoredItem(this.engine.idPrefix, value, priority, this.engine.nextSeq(), id);
  }

  private pushReady(item: StoredItem<V>): void {
    if (this.list) this.list.pushBack(item);
    else this.heap!.push(item);
  }

  private requeue(item: StoredItem<V>): void {
    // A returned item is served after the items already waiting among its priority (back of a
    // FIFO list, bottom of a LIFO stack, a new sequence number in a priority heap), so an item
    // that keeps crashing its consumers cannot hold back the rest of the queue.
    if (!this.list) this.heap!.push(this.resequenced(item));
    else if (this.options.order === 'fifo') this.list.pushBack(item);
    else this.list.pushFront(item);
  }

  /** The same item (id, value, attempts) ordered after everything stored so far. */
  private resequenced(item: StoredItem<V>): StoredItem<V> {
    const copy = this.newItem(item.value, item.priority, item.id);
    copy.attempt = item.attempt;
    return copy;
  }

  private popReady(): StoredItem<V> | undefined {
    if (!this.list) return this.heap!.pop();
    const next = this.options.order === 'lifo' ? this.list.popBack() : this.list.popFront();
    if (next === undefined || next instanceof StoredItem) return next as StoredItem<V> | undefined;
    return this.newItem(next as V, 0, undefined);
  }

  private deliver(
    item: StoredItem<V>,
    session: EngineSession,
    consumer: EngineConsumer<V> | undefined,
  ): TaggedItem<V> {
    item.attempt++;
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
      while (this.readyCount > 0) {
        const waiter = this.getWaiters.popFront();
        if (waiter) {
          waiter.timer?.clear();
          waiter.resolve(this.deliver(this.popReady()!, waiter.session, undefined));
          delivered = true;
          continue;
        }
        const consumer = this.pickConsumer();
        if (!consumer) break;
        consumer.onDelivery(this.deliver(this.popReady()!, consumer.session, consumer));
        delivered = true;
      }
      // Taking made room: admit waiting puts, then serve what they added.
      if (!delivered || !this.admitPutWaiters()) return;
    }
  }

  private pickConsumer(): EngineConsumer<V> | undefined {
    const count = this.consumers.length;
    for (let i = 0; i < count; i++) {
      const index = (this.nextConsumer + i) % count;
      const consumer = this.consumers[index]!;
      if (consumer.hasCapacity) {
        this.nextConsumer = (index + 1) % count;
        return consumer;
      }
    }
    return undefined;
  }

  /** Move waiting puts in while there is room; true when any was admitted. */
  private admitPutWaiters(): boolean {
    let admitted = false;
    while (this.putWaiters.length > 0 && !this.full) {
      const waiter = this.putWaiters.popFront()!;
      waiter.timer?.clear();
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

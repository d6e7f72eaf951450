import { checkDuration, checkOptionalDuration } from '../duration.js';
import { ConfigError, ConnectionClosedError, QueueEmptyError, QueueFullError } from '../errors.js';
import { type LongTimeout, MAX_TIMER_MS, setLongTimeout } from '../timer.js';
import type { QueueOptions, QueueOrder } from '../types.js';
import { Deque } from './deque.js';
import { Heap } from './heap.js';

/**
 * The in-process queue engine behind `memory://` and the TCP manager. It stores opaque values
 * (encoded payloads), so a server can hold what it received without decoding it.
 *
 * Costs: fifo/lifo O(1), priority and delays O(log n), one timer per queue for delays and one for
 * visibility timeouts (never one per item).
 */

/** A stored item. `attempt` counts deliveries so far. */
export interface EngineItem<V> {
  readonly id: string;
  readonly value: V;
  readonly priority: number;
  readonly seq: number;
  attempt: number;
}

/** An item handed to a taker; settle it by `tag`. */
export interface Taken<V> {
  readonly tag: number;
  readonly item: EngineItem<V>;
}

/** Normalised queue options (every field present). */
export interface EngineQueueOptions {
  order: QueueOrder;
  maxsize: number;
  visibilityTimeoutMs: number;
  deadLetter: string | undefined;
}

/** Options of {@link EngineQueue.put}. */
export interface EnginePutOptions {
  priority?: number;
  delayMs?: number;
  timeoutMs?: number;
  /** Skip the maxsize check (requeues and dead-lettering never fail). */
  force?: boolean;
  /** Keep this id (dead-lettering keeps the item's identity). */
  id?: string;
}

/**
 * An item as stored. The id string is derived from the sequence number on demand: a queue holding
 * a million items should not also hold a million id strings.
 */
class StoredItem<V> implements EngineItem<V> {
  attempt = 0;

  constructor(
    private readonly idPrefix: string,
    readonly value: V,
    readonly priority: number,
    readonly seq: number,
    private readonly customId: string | undefined,
  ) {}

  get id(): string {
    return this.customId ?? this.idPrefix + this.seq.toString(36);
  }
}

interface InFlight<V> {
  readonly tag: number;
  readonly item: StoredItem<V>;
  readonly queue: EngineQueue<V>;
  readonly session: EngineSession;
  readonly consumer: EngineConsumer<V> | undefined;
  deadline: number;
}

interface GetWaiter<V> {
  readonly session: EngineSession;
  readonly resolve: (taken: Taken<V>) => void;
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

interface Delayed<V> {
  readonly dueAt: number;
  readonly item: StoredItem<V>;
}

/** A push consumer: receives up to `prefetch` unsettled deliveries. */
export class EngineConsumer<V> {
  outstanding = 0;
  active = true;

  constructor(
    readonly queue: EngineQueue<V>,
    readonly session: EngineSession,
    public prefetch: number,
    readonly onDelivery: (taken: Taken<V>) => void,
  ) {}

  get hasCapacity(): boolean {
    return this.active && this.outstanding < this.prefetch;
  }

  /** Stop receiving; deliveries already made stay valid. */
  cancel(): void {
    if (!this.active) return;
    this.active = false;
    this.queue.removeConsumer(this);
  }
}

/**
 * One client of the engine (a connection). Closing it rejects its waiting gets and puts, cancels
 * its consumers and requeues every delivery it has not settled.
 */
export class EngineSession {
  closed = false;
  /** @internal */ readonly inFlight = new Map<number, InFlight<any>>();
  /** @internal */ readonly consumers = new Set<EngineConsumer<any>>();
  /** @internal */ readonly queues = new Set<EngineQueue<any>>();

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const consumer of this.consumers) consumer.cancel();
    for (const queue of this.queues) queue.dropSession(this);
    // Oldest first: each goes to the back of its queue, so they keep their original order.
    const held = [...this.inFlight.values()];
    this.inFlight.clear();
    for (const delivery of held) delivery.queue.returnDelivery(delivery);
  }
}

const PRIORITY_MAX = 255;

/**
 * Validate queue options and fill in the defaults. Shared by transports so every backend refuses
 * the same bad input with the same `TypeError`.
 */
export function resolveQueueOptions(options: QueueOptions = {}): EngineQueueOptions {
  const order = options.order ?? 'fifo';
  if (order !== 'fifo' && order !== 'lifo' && order !== 'priority') {
    throw new TypeError(`order must be 'fifo', 'lifo' or 'priority', got ${String(order)}`);
  }
  const maxsize = options.maxsize ?? 0;
  if (!Number.isInteger(maxsize) || maxsize < 0) throw new TypeError('maxsize must be an integer ≥ 0');
  const visibilityTimeoutMs = checkDuration(options.visibilityTimeoutMs ?? 0, 'visibilityTimeoutMs');
  if (options.deadLetter !== undefined && (typeof options.deadLetter !== 'string' || !options.deadLetter)) {
    throw new TypeError('deadLetter must be a queue name');
  }
  return { order, maxsize, visibilityTimeoutMs, deadLetter: options.deadLetter };
}

/** Validate a priority: an integer 0–255. */
export function checkPriority(priority: number | undefined): number {
  if (priority === undefined) return 0;
  if (!Number.isInteger(priority) || priority < 0 || priority > PRIORITY_MAX) {
    throw new TypeError(`priority must be an integer 0–${PRIORITY_MAX}, got ${priority}`);
  }
  return priority;
}

/** One named queue of an {@link MemoryEngine}. */
export class EngineQueue<V> {
  // A fifo/lifo list holds a fresh item as its bare value: no per-item object until it is taken
  // (its id is assigned then, which is the first time anyone can see it).
  private readonly list: Deque<StoredItem<V> | V> | undefined;
  private readonly heap: Heap<StoredItem<V>> | undefined;
  private readonly delayed = new Heap<Delayed<V>>(
    (a, b) => a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.item.seq < b.item.seq),
  );
  private readonly deadlines = new Heap<InFlight<V>>((a, b) => a.deadline < b.deadline);
  private readonly getWaiters = new Deque<GetWaiter<V>>();
  private readonly putWaiters = new Deque<PutWaiter<V>>();
  private consumers: EngineConsumer<V>[] = [];
  private nextConsumer = 0;
  private dispatching = false;
  private delayTimer: NodeJS.Timeout | undefined;
  private delayTimerAt = Infinity;
  private visibilityTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly engine: MemoryEngine<V>,
    readonly name: string,
    readonly options: EngineQueueOptions,
  ) {
    if (options.order === 'priority') {
      this.heap = new Heap((a, b) => a.priority > b.priority || (a.priority === b.priority && a.seq < b.seq));
    } else {
      this.list = new Deque();
    }
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
  tryTake(session: EngineSession): Taken<V> | undefined {
    const item = this.popReady();
    if (!item) return undefined;
    const taken = this.deliver(item, session, undefined);
    this.admitPutWaiters();
    return taken;
  }

  /** Take an item, waiting up to `timeoutMs` (undefined = until one arrives or the session closes). */
  get(session: EngineSession, timeoutMs?: number): Promise<Taken<V>> {
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
    onDelivery: (taken: Taken<V>) => void,
  ): EngineConsumer<V> {
    if (session.closed) throw new ConnectionClosedError('connection is closed');
    if (!Number.isInteger(prefetch) || prefetch < 1) throw new TypeError('prefetch must be an integer ≥ 1');
    const consumer = new EngineConsumer(this, session, prefetch, onDelivery);
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
      if (options.delayMs && options.delayMs > 0) this.schedule(item, Date.now() + options.delayMs);
      else this.requeue(item);
    } else {
      const target = this.options.deadLetter ?? (options.undecodable ? `${this.name}.dead` : undefined);
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
    this.clearDelayTimer();
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
    this.clearDelayTimer();
    clearTimeout(this.visibilityTimer);
    this.visibilityTimer = undefined;
  }

  private insert(value: V, options: EnginePutOptions): void {
    const priority = this.heap ? checkPriority(options.priority) : 0;
    const delayed = options.delayMs !== undefined && options.delayMs > 0;
    if (this.list && !delayed && options.id === undefined) {
      this.list.pushBack(value);
    } else {
      const item = this.newItem(value, priority, options.id);
      if (delayed) {
        this.schedule(item, Date.now() + options.delayMs!);
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
  ): Taken<V> {
    item.attempt++;
    const tag = this.engine.nextTag();
    const deadline = this.options.visibilityTimeoutMs > 0 ? Date.now() + this.options.visibilityTimeoutMs : 0;
    const delivery: InFlight<V> = { tag, item, queue: this, session, consumer, deadline };
    session.inFlight.set(tag, delivery);
    if (consumer) consumer.outstanding++;
    if (deadline) {
      this.deadlines.push(delivery);
      if (!this.visibilityTimer) this.armVisibilityTimer();
    }
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

  private schedule(item: StoredItem<V>, dueAt: number): void {
    this.delayed.push({ dueAt, item });
    if (dueAt < this.delayTimerAt) {
      this.clearDelayTimer();
      this.delayTimerAt = dueAt;
      this.delayTimer = setTimeout(() => this.releaseDue(), timerDelay(dueAt - Date.now()));
    }
  }

  private releaseDue(): void {
    this.delayTimer = undefined;
    this.delayTimerAt = Infinity;
    const now = Date.now();
    while (this.delayed.length > 0 && this.delayed.peek()!.dueAt <= now)
      this.pushReady(this.delayed.pop()!.item);
    const next = this.delayed.peek();
    if (next) {
      this.delayTimerAt = next.dueAt;
      this.delayTimer = setTimeout(() => this.releaseDue(), timerDelay(next.dueAt - now));
    }
    this.dispatch();
  }

  private clearDelayTimer(): void {
    clearTimeout(this.delayTimer);
    this.delayTimer = undefined;
    this.delayTimerAt = Infinity;
  }

  private armVisibilityTimer(): void {
    // Skip deliveries settled since they were pushed (deadline reset to 0): lazy deletion.
    while (this.deadlines.length > 0 && this.deadlines.peek()!.deadline === 0) this.deadlines.pop();
    const next = this.deadlines.peek();
    if (!next) return;
    this.visibilityTimer = setTimeout(() => this.expire(), timerDelay(next.deadline - Date.now()));
    // The timer only redelivers; it must not keep an otherwise finished process alive.
    this.visibilityTimer.unref();
  }

  private expire(): void {
    this.visibilityTimer = undefined;
    const now = Date.now();
    while (this.deadlines.length > 0) {
      const delivery = this.deadlines.peek()!;
      if (delivery.deadline !== 0 && delivery.deadline > now) break;
      this.deadlines.pop();
      if (delivery.deadline === 0) continue;
      // Requeue only a delivery still held: anything else already went back or was settled.
      if (this.settle(delivery.session, delivery.tag)) this.requeue(delivery.item);
    }
    this.armVisibilityTimer();
    this.dispatch();
  }

  private fullError(): QueueFullError {
    return new QueueFullError(`queue "${this.name}" is full (maxsize ${this.options.maxsize})`);
  }

  private emptyError(timeoutMs: number): QueueEmptyError {
    return new QueueEmptyError(`queue "${this.name}" had nothing to take within ${timeoutMs} ms`);
  }
}

/**
 * The delay of the engine's own timers: capped so a far deadline never overflows `setTimeout`.
 * Their callbacks release only what is due and re-arm for the rest, so an early wake-up is harmless.
 */
function timerDelay(ms: number): number {
  return Math.min(MAX_TIMER_MS, Math.max(0, ms));
}

let engineCounter = 0;

/** A set of named queues in this process. */
export class MemoryEngine<V> {
  private readonly queues = new Map<string, EngineQueue<V>>();
  private readonly channels = new Map<string, Set<(value: V) => void>>();
  /** @internal Prefix of every item id this engine generates. */
  readonly idPrefix =
    `${process.pid.toString(36)}${(engineCounter++).toString(36)}${Date.now().toString(36)}-`;
  private seq = 0;
  private tag = 0;

  /**
   * Declare a queue, or open it if it exists. Declaring an existing queue with other options is a
   * `ConfigError` naming the option; omitted options are taken from the existing queue.
   */
  declare(name: string, options?: QueueOptions): EngineQueue<V> {
    if (typeof name !== 'string' || name.length === 0)
      throw new TypeError('queue name must be a non-empty string');
    const wanted = resolveQueueOptions(options);
    const existing = this.queues.get(name);
    if (!existing) {
      const queue = new EngineQueue(this, name, wanted);
      this.queues.set(name, queue);
      return queue;
    }
    for (const key of Object.keys(wanted) as (keyof EngineQueueOptions)[]) {
      if (options?.[key] !== undefined && existing.options[key] !== wanted[key]) {
        throw new ConfigError(
          `queue "${name}" already exists with ${key}=${String(existing.options[key])}; requested ${key}=${String(wanted[key])}`,
        );
      }
    }
    return existing;
  }

  /** The queue named `name`, declared with default options if it does not exist. */
  queue(name: string): EngineQueue<V> {
    return this.queues.get(name) ?? this.declare(name);
  }

  /** Open a session (one per client connection). */
  openSession(): EngineSession {
    return new EngineSession();
  }

  /** Deliver `value` to every current subscriber of `channel`. Returns how many received it. */
  publish(channel: string, value: V): number {
    const subscribers = this.channels.get(channel);
    if (!subscribers) return 0;
    for (const subscriber of subscribers) subscriber(value);
    return subscribers.size;
  }

  /** Subscribe to `channel`; returns the unsubscribe function. */
  subscribe(channel: string, subscriber: (value: V) => void): () => void {
    let subscribers = this.channels.get(channel);
    if (!subscribers) {
      subscribers = new Set();
      this.channels.set(channel, subscribers);
    }
    subscribers.add(subscriber);
    return () => {
      subscribers.delete(subscriber);
      if (subscribers.size === 0) this.channels.delete(channel);
    };
  }

  /** Drop a queue and everything in it. */
  deleteQueue(name: string): void {
    const queue = this.queues.get(name);
    if (!queue) return;
    queue.purge();
    queue.dispose();
    this.queues.delete(name);
  }

  /** Stop every timer. */
  dispose(): void {
    for (const queue of this.queues.values()) queue.dispose();
  }

  /** Names of the declared queues. */
  queueNames(): string[] {
    return [...this.queues.keys()];
  }

  /** @internal */
  nextSeq(): number {
    return ++this.seq;
  }

  /** @internal */
  nextTag(): number {
    return ++this.tag;
  }
}

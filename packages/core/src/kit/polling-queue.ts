import type { Codec } from '../codec.js';
import { ConnectionClosedError, QueueEmptyError, QueueFullError } from '../errors.js';
import type {
  ConsumeOptions,
  ConsumerHandle,
  Delivery,
  DeliveryHandler,
  DistributedQueue,
  GetOptions,
  NackOptions,
  PutOptions,
} from '../types.js';
import { wrapBackendError } from './backend-error.js';
import { BaseDelivery } from './delivery.js';
import { PollingConsumer, type TakeResult } from './polling-consumer.js';
import type { Awaitable, ItemLease, PolledItem, PollingStore, StorePut, TakeReply } from './polling-store.js';
import {
  checkPriority,
  checkPutOptions,
  type ResolvedQueueOptions,
  resolvePrefetch,
} from './queue-options.js';
import { TickBatcher } from './tick-batcher.js';
import { decodeOrDeadLetter, UNDECODABLE, undecodableTarget } from './undecodable.js';
import { WakeSignal } from './wake-signal.js';

/** Settings of a {@link PollingQueue}. */
export interface PollingQueueSettings {
  /** The backend's name, for error messages (`sqlite: take from "jobs" failed: …`). */
  readonly backend: string;
  readonly codec: Codec;
  /** How long an idle taker, or a put waiting for room, sleeps before it looks again (unless woken). */
  readonly pollMs: number;
  /**
   * The lease of items taken on a queue without a visibility timeout: how long they stay held after their holder
   * died. A live queue renews it every third of it while it holds items (when the store can {@link PollingStore.renew}).
   */
  readonly leaseMs: number;
  /**
   * Wakes idle takers and waiting puts when something changed. Share one per backend within a process
   * (`sharedWakeSignal(key)`), and notify it from the backend's notifications where it has any. Default: one of
   * this handle's own.
   */
  readonly wake?: WakeSignal;
}

const SETTLED = Promise.resolve();
/** Items per store call of a `putMany` (the last is shorter). */
const PUT_SLICE = 1000;
const ignore = () => undefined;

function isTakeReply<I>(reply: readonly I[] | TakeReply<I>): reply is TakeReply<I> {
  return !Array.isArray(reply);
}

/** Run `work` for its effect only: a failure (sync or async) is ignored. */
function fireAndForget(work: () => unknown): void {
  try {
    const result = work();
    if (result instanceof Promise) result.catch(ignore);
  } catch {
    // the next renewal, or the lease passing, takes care of it
  }
}

interface Settler<I extends PolledItem> {
  ack(delivery: PolledDelivery<unknown, I>): Promise<void>;
  nack(delivery: PolledDelivery<unknown, I>, options: NackOptions): Promise<void>;
}

class PolledDelivery<T, I extends PolledItem> extends BaseDelivery<T> {
  constructor(
    readonly item: I,
    readonly body: T,
    private readonly settler: Settler<I>,
    private readonly whenSettled: (() => void) | undefined,
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
    return this.settler.ack(this);
  }
  protected settleNack(options: NackOptions): Promise<void> {
    return this.settler.nack(this, options);
  }
}

/**
 * A whole {@link DistributedQueue} for a backend that cannot push (a database: SQLite, PostgreSQL), built on a
 * {@link PollingStore} that only stores, takes and settles. It does the rest of the contract: `get` with a timeout;
 * `consume` with prefetch (a {@link PollingConsumer}); `put`/`putMany` waiting for room on a full queue up to
 * `timeoutMs`, first come first served among this handle's waiting puts; priorities and delays passed to the store;
 * acks of one turn in one store call ({@link TickBatcher}); undecodable payloads dead-lettered
 * ({@link decodeOrDeadLetter}); the lease of held items renewed while the handle lives; waits that sleep on a
 * {@link WakeSignal} for at most `pollMs`; `close()` giving back what the handle holds, and {@link abandon} for a
 * connection that died.
 */
export class PollingQueue<T, I extends PolledItem = PolledItem> implements DistributedQueue<T> {
  private readonly wake: WakeSignal;
  private readonly lease: ItemLease;
  /** Unsettled deliveries: closing the handle gives them back, the heartbeat renews their lease. */
  private readonly held = new Set<PolledDelivery<T, I>>();
  private readonly consumers = new Set<PollingConsumer<T, I>>();
  /** Puts waiting for room, oldest first: only the first one stores. */
  private readonly putLine: object[] = [];
  /** Aborted on close: ends every wait at once. */
  private readonly stop = new AbortController();
  private readonly acks: TickBatcher<I>;
  /** Where a put without options goes: made once, as every task's result is such a put. */
  private readonly plainPut: StorePut;
  private heartbeat: NodeJS.Timeout | undefined;
  private state: 'open' | 'closed' | 'abandoned' = 'open';

  constructor(
    readonly name: string,
    private readonly options: ResolvedQueueOptions,
    private readonly store: PollingStore<I>,
    private readonly settings: PollingQueueSettings,
  ) {
    this.wake = settings.wake ?? new WakeSignal();
    const visibility = options.visibilityTimeoutMs;
    this.lease = { ms: visibility || settings.leaseMs, renewable: visibility === 0 };
    this.plainPut = { priority: 0, delayMs: 0, maxsize: options.maxsize };
    // Acks of one turn in one store call: a write per ack makes a single-writer backend the bottleneck.
    this.acks = new TickBatcher<I>(async (items) => {
      if (this.state === 'abandoned') return;
      await this.call('ack on', () => this.store.ack(items));
      this.wake.notify();
    });
  }

  put(item: T, options?: PutOptions): Promise<void> {
    if (options !== undefined || this.putLine.length > 0) return this.putMany([item], options);
    // The common put (one item, no options, nobody waiting for room) in one promise: it runs once per task.
    let payloads: Uint8Array[];
    try {
      this.assertOpen();
      payloads = [this.settings.codec.encode(item)];
    } catch (error) {
      return Promise.reject(error);
    }
    let storing: Awaitable<number>;
    try {
      storing = this.store.put(payloads, this.plainPut);
    } catch (error) {
      return Promise.reject(this.putFailure(error));
    }
    return Promise.resolve(storing).then(
      (stored) => {
        if (stored > 0) this.wake.notify();
        if (stored < 1) return this.waitForRoom(payloads, stored, this.plainPut, undefined);
      },
      (error: unknown) => {
        throw this.putFailure(error);
      },
    );
  }

  async putMany(items: Iterable<T>, options: PutOptions = {}): Promise<void> {
    this.assertOpen();
    const priority = checkPriority(options.priority);
    checkPutOptions(options);
    const payloads = Array.from(items, (item) => this.settings.codec.encode(item));
    if (payloads.length === 0) return;
    const where: StorePut = {
      priority: this.options.order === 'priority' ? priority : 0,
      delayMs: options.delayMs ?? 0,
      maxsize: this.options.maxsize,
    };
    // A put joins the line of waiting ones instead of overtaking them.
    let stored = 0;
    if (this.putLine.length === 0) {
      // A large batch goes in slices, each stored (and takeable) before the next is sent: consumers elsewhere start
      // on the first slice instead of waiting for the whole batch, and no statement grows without bound.
      while (stored < payloads.length) {
        const end = Math.min(payloads.length, stored + PUT_SLICE);
        stored = await this.storeFrom(payloads, stored, where, end);
        if (stored < end) break; // the queue is full: the rest waits for room
      }
    }
    if (stored < payloads.length) await this.waitForRoom(payloads, stored, where, options.timeoutMs);
  }

  async get(options: GetOptions = {}): Promise<Delivery<T>> {
    checkPutOptions(options);
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    for (;;) {
      this.assertOpen();
      const since = this.wake.notified;
      const { items, wait } = await this.take(1);
      if (items.length > 0) {
        const delivery = this.toDelivery(items[0]!, undefined);
        if (delivery) return delivery;
        continue; // undecodable, and dead-lettered: look again at once
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new QueueEmptyError(`queue "${this.name}" is empty`);
      await this.wake.wait(Math.min(this.sleepFor(wait), left), this.stop.signal, since);
    }
  }

  async consume(handler: DeliveryHandler<T>, options: ConsumeOptions = {}): Promise<ConsumerHandle> {
    this.assertOpen();
    /** The wake-ups counted when this consumer's last take was sent. */
    let since = 0;
    const consumer = new PollingConsumer<T, I>(
      {
        take: (max) => {
          since = this.wake.notified;
          return this.take(max);
        },
        toDelivery: (item, onSettle) => this.toDelivery(item, onSettle),
        giveBack: (items) => this.giveBack(items),
        waitForWork: (wait, signal) => this.wake.wait(this.sleepFor(wait), signal, since),
      },
      handler,
      resolvePrefetch(options.prefetch),
    );
    this.consumers.add(consumer);
    return {
      cancel: async () => {
        this.consumers.delete(consumer);
        await consumer.cancel();
      },
    };
  }

  async size(): Promise<number> {
    this.assertOpen();
    return this.call('size of', () => this.store.size());
  }

  async purge(): Promise<number> {
    this.assertOpen();
    return this.call('purge of', () => this.store.purge());
  }

  /** Stop consumers and waits, send the pending acks, give back what this handle holds (attempts counted). */
  async close(): Promise<void> {
    if (this.state !== 'open') return;
    const consumers = [...this.consumers];
    this.consumers.clear();
    await Promise.all(consumers.map((consumer) => consumer.cancel()));
    this.state = 'closed';
    this.stop.abort();
    await this.acks.drain();
    for (const delivery of [...this.held]) {
      await delivery.nack({ requeue: true, countAttempt: true }).catch(ignore);
    }
    this.stopHeartbeat();
    this.wake.notify();
  }

  async delete(): Promise<void> {
    await this.close();
    await this.call('delete of', () => this.store.drop());
  }

  /**
   * End this handle as a crashed process would: nothing is given back or settled any more (the store serves what
   * it held again once the lease passes), waits end, later calls reject with `ConnectionClosedError`. For a
   * connection that learned it is gone, and for fault tests.
   */
  abandon(): void {
    if (this.state === 'abandoned') return;
    this.state = 'abandoned';
    this.stop.abort();
    for (const consumer of this.consumers) void consumer.cancel();
    this.consumers.clear();
    this.acks.discard();
    this.held.clear();
    this.stopHeartbeat();
  }

  private readonly settler: Settler<I> = {
    ack: (delivery) => {
      this.held.delete(delivery as PolledDelivery<T, I>);
      if (this.state === 'abandoned') return SETTLED;
      const done = this.acks.nextFlush();
      this.acks.add(delivery.item);
      return done;
    },
    nack: async (delivery, options) => {
      this.held.delete(delivery as PolledDelivery<T, I>);
      if (this.state === 'abandoned') return;
      const { item } = delivery;
      await this.call('nack on', () => {
        if (options.requeue ?? true) {
          const countAttempt = options.countAttempt ?? true;
          return this.store.requeue(item, { delayMs: options.delayMs ?? 0, countAttempt });
        }
        if (this.options.deadLetter) return this.store.deadLetter(item, this.options.deadLetter);
        return this.store.ack([item]);
      });
      this.wake.notify();
    },
  };

  /** Take up to `max` items; when none, also say how long until the next delayed one (-1: none known). */
  private async take(max: number): Promise<TakeResult<I>> {
    const reply = await this.call('take from', () => this.store.take(max, this.lease));
    const items = isTakeReply(reply) ? reply.items : reply;
    if (this.state !== 'open') {
      // Closed while the take was in flight: nobody will hold these.
      await this.giveBack(items);
      return { items: [], wait: -1, drained: true };
    }
    // Only an empty take counts as drained: a put from another process leaves no wake-up here.
    if (items.length > 0) return { items, wait: -1, drained: false };
    let readyAt: number | undefined;
    if (isTakeReply(reply)) readyAt = reply.nextReadyAt;
    else if (this.store.nextReadyAt) readyAt = await this.call('take from', () => this.store.nextReadyAt!());
    return { items, wait: readyAt === undefined ? -1 : Math.max(0, readyAt - Date.now()), drained: true };
  }

  private toDelivery(item: I, onSettle: (() => void) | undefined): PolledDelivery<T, I> | undefined {
    const body = decodeOrDeadLetter(this.settings.codec, item.payload, this.deadLetterUndecodable, item);
    if (body === UNDECODABLE) return undefined;
    const delivery = new PolledDelivery<T, I>(item, body as T, this.settler, onSettle);
    this.held.add(delivery);
    this.startHeartbeat();
    return delivery;
  }

  private readonly deadLetterUndecodable = (item: I) =>
    this.store.deadLetter(item, undecodableTarget(this.name, this.options.deadLetter));

  /** Return items nobody will handle, as never started. */
  private async giveBack(items: readonly I[]): Promise<void> {
    if (this.state === 'abandoned' || items.length === 0) return;
    for (const item of items) {
      await this.call('give back to', () => this.store.requeue(item, { delayMs: 0, countAttempt: false }));
    }
    this.wake.notify();
  }

  /** A store's put error, as {@link call} reports it. */
  private putFailure(error: unknown): Error {
    return wrapBackendError(error, `${this.settings.backend}: put to "${this.name}"`);
  }

  /** Store `payloads` from `from` to `end` as room allows; resolve with how many are stored in all. */
  private async storeFrom(
    payloads: Uint8Array[],
    from: number,
    where: StorePut,
    end = payloads.length,
  ): Promise<number> {
    const rest = from === 0 && end === payloads.length ? payloads : payloads.slice(from, end);
    const stored = await this.call('put to', () => this.store.put(rest, where));
    if (stored > 0) this.wake.notify();
    return from + stored;
  }

  private async waitForRoom(
    payloads: Uint8Array[],
    stored: number,
    where: StorePut,
    timeoutMs: number | undefined,
  ): Promise<void> {
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    const turn = {};
    this.putLine.push(turn);
    try {
      for (;;) {
        const since = this.wake.notified;
        if (this.putLine[0] === turn) {
          stored = await this.storeFrom(payloads, stored, where);
          if (stored === payloads.length) return;
        }
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new QueueFullError(`queue "${this.name}" is full (maxsize ${this.options.maxsize})`);
        }
        await this.wake.wait(Math.min(this.settings.pollMs, left), this.stop.signal, since);
        this.assertOpen();
      }
    } finally {
      this.putLine.splice(this.putLine.indexOf(turn), 1);
      // The next in line tries at once.
      if (this.putLine.length > 0) this.wake.notify();
    }
  }

  /** How long an idle taker sleeps: until the next delayed item (`wait` ms, -1 = none), at most a poll. */
  private sleepFor(wait: number): number {
    return wait >= 0 ? Math.min(wait + 1, this.settings.pollMs) : this.settings.pollMs;
  }

  private startHeartbeat(): void {
    if (this.heartbeat || !this.lease.renewable || !this.store.renew) return;
    const renew = this.store.renew.bind(this.store);
    this.heartbeat = setInterval(() => {
      if (this.held.size === 0) this.stopHeartbeat();
      else fireAndForget(() => renew(this.lease));
    }, this.lease.ms / 3);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  /** Call the store; a raw client error becomes a `BackendError` naming the backend, what failed and the queue. */
  private async call<R>(what: string, work: () => Awaitable<R>): Promise<R> {
    try {
      return await work();
    } catch (error) {
      throw wrapBackendError(error, `${this.settings.backend}: ${what} "${this.name}"`);
    }
  }

  private assertOpen(): void {
    if (this.state !== 'open') throw new ConnectionClosedError(`queue "${this.name}" is closed`);
  }
}

import {
  type Codec,
  ConnectionClosedError,
  type ConsumeOptions,
  type ConsumerHandle,
  checkDuration,
  checkOptionalDuration,
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
  checkPriority,
  decodeOrDeadLetter,
  PollingConsumer,
  resolvePrefetch,
  type TakeResult,
  TickBatcher,
  UNDECODABLE,
  undecodableTarget,
  wrapBackendError,
} from '@taskwire/core/transport';
import type { BlockingPool } from './blocking.js';
import { type LeasedItem, RedisDelivery, type Settler } from './delivery.js';
import { decodeItem, deliveryField, encodeItem } from './item.js';
import { holdsKey, type QueueKeyName, type QueueKeys, queueKeys, unblockKey } from './keys.js';
import type { StoredQueueOptions } from './queue-options.js';
import { type LuaScript, type RedisClient, type ScriptArg, scripts } from './scripts.js';
import type { WriteTick } from './write-tick.js';

/** What a queue handle borrows from its connection. */
export interface QueueContext {
  readonly client: RedisClient;
  readonly pool: BlockingPool;
  /** The connection's end-of-turn flushes: every handle's puts and acks leave in one write. */
  readonly writes: WriteTick;
  readonly codec: Codec;
  readonly prefix: string;
  readonly leaseTtlMs: number;
  readonly maxBlockMs: number;
  /** A new item id, unique across connections. */
  nextId(): string;
  /** A new lease name, unique across connections. */
  nextLease(): string;
  /** The connection's close in progress, if any. */
  closing(): Promise<void> | undefined;
  /** True once the connection has failed for good: nothing more can reach Redis through it. */
  failed(): boolean;
}

interface PutEntry {
  readonly priority: number;
  readonly delayMs: number;
  /** The stored form (`encodeItem`); the put script fills in a priority queue's score. */
  readonly item: Buffer;
}

/** The take script's first reply when it filled the whole request: the queue may hold more. */
const MORE_READY = -2;

/** How long a token that ends one consumer's wait is kept (it is normally popped at once). */
const UNBLOCK_TTL_MS = 10_000;

/** Items (and bytes) per put, take or ack call (Lua's unpack() limits the count). */
const BATCH_ITEMS = 1000;
const BATCH_BYTES = 4 * 1024 * 1024;

/**
 * One handle on a Redis-backed queue. Its deliveries are recorded against a lease that a heartbeat
 * keeps alive; closing the handle returns its unsettled deliveries at once, and a handle that
 * dies (process killed, socket gone) stops refreshing, so the reaper returns them when it expires.
 */
export class RedisQueue<T> implements DistributedQueue<T>, Settler {
  private readonly keys: QueueKeys;
  /** Every lease this handle has used; the last one is current. */
  private readonly leases: string[] = [];
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly stop = new AbortController();
  private readonly consumers = new Set<PollingConsumer<T, LeasedItem>>();
  /** Per consumer signal, the signal that also aborts when this handle closes (see endOf). */
  private readonly ends = new WeakMap<AbortSignal, AbortSignal>();
  private readonly pendingPuts = new Set<Promise<void>>();
  private readonly putBatcher: TickBatcher<PutEntry>;
  private readonly ackBatcher: TickBatcher<LeasedItem>;
  /** Started by the first take: a handle that only puts holds no lease and needs none. */
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: QueueContext,
    readonly name: string,
    readonly options: StoredQueueOptions,
  ) {
    this.keys = queueKeys(ctx.prefix, name);
    this.leases.push(ctx.nextLease());
    this.putBatcher = new TickBatcher((entries) => this.store(entries, undefined), {
      maxItems: BATCH_ITEMS,
      maxBytes: BATCH_BYTES,
      bytes: (entry) => entry.item.length,
      schedule: (flush) => ctx.writes.schedule(flush, 'put'),
    });
    this.ackBatcher = new TickBatcher((items) => this.ackNow(items), {
      maxItems: BATCH_ITEMS,
      schedule: (flush) => ctx.writes.schedule(flush, 'settle'),
    });
  }

  /** Keep this handle's lease alive from its first take until it closes. */
  private startHeartbeat(): void {
    if (this.heartbeat || this.closed) return;
    const { leaseTtlMs } = this.ctx;
    // The heartbeat doubles as this client's reaper for the queue.
    this.heartbeat = setInterval(
      () => {
        void this.send(scripts.heartbeat, { lease: this.lease, leaseTtlMs }).catch(() => undefined);
      },
      Math.max(100, Math.floor(leaseTtlMs / 3)),
    );
    this.heartbeat.unref();
  }

  private get lease(): string {
    return this.leases[this.leases.length - 1]!;
  }

  put(item: T, options: PutOptions = {}): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError());
    let entry: PutEntry;
    try {
      entry = this.entry(item, options);
    } catch (error) {
      return Promise.reject(error);
    }
    const stored =
      this.options.maxsize > 0 ? this.putBounded(entry, options.timeoutMs) : this.batchPut(entry);
    this.pendingPuts.add(stored);
    void stored.catch(() => undefined).finally(() => this.pendingPuts.delete(stored));
    return stored.catch((error: unknown) => Promise.reject(this.closed ? this.closedError() : error));
  }

  async putMany(items: Iterable<T>, options: PutOptions = {}): Promise<void> {
    if (this.closed) throw this.closedError();
    if (this.options.maxsize > 0) {
      for (const item of items) await this.put(item, options);
      return;
    }
    const entries = [...items].map((item) => this.entry(item, options));
    const sends: Promise<unknown>[] = [];
    for (let start = 0; start < entries.length; ) {
      let end = start;
      let bytes = 0;
      while (end < entries.length && end - start < BATCH_ITEMS && bytes < BATCH_BYTES) {
        bytes += entries[end++]!.item.length;
      }
      // Sent back to back on one connection: Redis stores the chunks in order.
      sends.push(this.store(entries.slice(start, end), undefined));
      start = end;
    }
    await Promise.all(sends);
  }

  async get(options: GetOptions = {}): Promise<Delivery<T>> {
    const timeoutMs = checkOptionalDuration(options.timeoutMs, 'timeoutMs');
    const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
    for (;;) {
      if (this.closed) return this.rejectClosed();
      const { items, wait } = await this.take(1);
      const taken = items[0];
      if (taken) {
        const delivery = this.toDelivery(taken);
        if (delivery) return delivery;
        continue; // undecodable: dead-lettered; keep looking
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new QueueEmptyError(`queue "${this.name}" had nothing to take within ${timeoutMs} ms`);
      }
      await this.ctx.pool.wait(this.keys.wake, Math.min(remaining, this.blockFor(wait)), this.stop.signal);
    }
  }

  async consume(handler: DeliveryHandler<T>, options: ConsumeOptions = {}): Promise<ConsumerHandle> {
    if (this.closed) throw this.closedError();
    const prefetch = resolvePrefetch(options.prefetch);
    const consumer = new PollingConsumer<T, LeasedItem>(
      {
        take: (max) => this.take(max),
        toDelivery: (taken, onSettle) => this.toDelivery(taken, onSettle),
        giveBack: (items) => this.giveBack(items),
        waitForWork: (wait, signal) => this.waitForWork(wait, signal),
        waitAndTake: (wait, max, signal) => this.waitAndTake(wait, max, signal),
      },
      handler,
      prefetch,
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
    if (this.closed) throw this.closedError();
    return Number(await this.send(scripts.size, {}));
  }

  async purge(): Promise<number> {
    if (this.closed) throw this.closedError();
    return Number(await this.send(scripts.purge, {}));
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    this.stop.abort();
    clearInterval(this.heartbeat);
    await Promise.allSettled([...this.consumers].map((consumer) => consumer.cancel()));
    await Promise.allSettled([...this.pendingPuts]);
    await this.ackBatcher.drain();
    // A handle that never took holds no lease and no delivery: nothing to release. Through a failed connection
    // nothing can be: its leases lapse after leaseTtlMs, and their deliveries go back to the queue.
    if (this.heartbeat === undefined || this.ctx.failed()) return;
    await Promise.allSettled(this.leases.map((lease) => this.send(scripts.release, { lease })));
  }

  /** Close this handle and remove the queue (every key, its declaration included). */
  async delete(): Promise<void> {
    await this.close();
    // Each lease's index of deliveries is a key of its own; a lease holding none has no key.
    const leases = await this.ctx.client.zrange(this.keys.leases, 0, -1);
    await this.ctx.client.unlink(...this.keys.all, ...leases.map((lease) => holdsKey(this.keys, lease)));
  }

  /** @internal The connection came back: take under a new lease; the old one lapses. */
  renewLease(): void {
    this.leases.push(this.ctx.nextLease());
  }

  /** @internal Settle by ack (batched with the acks of this tick). */
  ack(taken: LeasedItem): Promise<void> {
    const done = this.ackBatcher.nextFlush();
    this.ackBatcher.add(taken);
    return done;
  }

  /** @internal Settle by nack: requeue (optionally delayed) or dead-letter. */
  async nack(taken: LeasedItem, options: NackOptions): Promise<void> {
    if (options.requeue ?? true) {
      const delayMs = Math.max(0, Math.ceil(options.delayMs ?? 0));
      const uncount = options.countAttempt === false ? '1' : '0';
      await this.send(scripts.nack, { delivery: taken.field, delayMs, uncount });
    } else {
      await this.deadLetter(taken, false);
    }
  }

  private entry(item: T, options: PutOptions): PutEntry {
    const priority = this.options.order === 'priority' ? checkPriority(options.priority) : 0;
    const delayMs = checkDuration(options.delayMs ?? 0, 'delayMs');
    checkOptionalDuration(options.timeoutMs, 'timeoutMs');
    const payload = this.ctx.codec.encode(item);
    return { priority, delayMs: Math.ceil(delayMs), item: encodeItem(this.ctx.nextId(), payload) };
  }

  /** A put to an unbounded queue, stored with this turn's others in one script call. */
  private batchPut(entry: PutEntry): Promise<void> {
    const done = this.putBatcher.nextFlush();
    this.putBatcher.add(entry);
    return done;
  }

  /**
   * Run the put script; resolves false when a bounded put (`ticket` given) was refused: no room,
   * or an earlier refused put still waits its turn.
   */
  private async store(entries: PutEntry[], ticket: string | undefined, keys = this.keys): Promise<boolean> {
    const each: ScriptArg[] = [];
    for (const entry of entries) each.push(entry.delayMs, entry.priority, entry.item);
    const args = {
      checkFull: ticket === undefined ? '0' : '1',
      ticket: ticket ?? '',
      ticketTtl: this.ticketTtlMs,
      count: entries.length,
    };
    try {
      return Number(await scripts.put.run(this.ctx.client, keys, args, each)) === 1;
    } catch (error) {
      throw wrapBackendError(error, `redis: put to "${this.name}"`);
    }
  }

  /**
   * A put to a bounded queue: stored now if there is room and nobody is waiting, else it waits its
   * turn in the queue's line of refused puts (first come, first served across every client).
   */
  private async putBounded(entry: PutEntry, timeoutMs: number | undefined): Promise<void> {
    const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
    const ticket = this.ctx.nextId();
    for (let waited = false; ; waited = true) {
      if (this.closed) {
        if (waited) await this.leaveLine(ticket);
        return this.rejectClosed();
      }
      if (await this.store([entry], ticket)) return;
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        await this.leaveLine(ticket);
        throw new QueueFullError(`queue "${this.name}" is full (maxsize ${this.options.maxsize})`);
      }
      await this.ctx.pool.wait(this.keys.room, Math.min(remaining, this.ctx.maxBlockMs), this.stop.signal);
    }
  }

  /**
   * How long a refused put keeps its place in line without retrying: well past its longest wait
   * between retries, so only a putter that is gone (process killed) loses it.
   */
  private get ticketTtlMs(): number {
    return Math.max(this.ctx.leaseTtlMs, 2 * this.ctx.maxBlockMs + 1000);
  }

  /** Give up a place in line (best effort: an abandoned ticket expires anyway). */
  private async leaveLine(ticket: string): Promise<void> {
    await this.ctx.client
      .pipeline()
      .zrem(this.keys.putters, ticket)
      .zrem(this.keys.expiries, ticket)
      .exec()
      .catch(() => undefined);
  }

  /** Block for a wake-up (a put leaves one), the next due delay, or a bounded maximum. */
  private async waitForWork(wait: number, signal: AbortSignal): Promise<void> {
    await this.ctx.pool.wait(this.keys.wake, this.blockFor(wait), this.endOf(signal));
  }

  /**
   * A signal that aborts with a consumer's `signal` or this handle's close: made once per consumer,
   * not per wait (AbortSignal.any and its listeners cost more than the rest of a wait).
   */
  private endOf(signal: AbortSignal): AbortSignal {
    let ended = this.ends.get(signal);
    if (!ended) {
      ended = AbortSignal.any([signal, this.stop.signal]);
      this.ends.set(signal, ended);
    }
    return ended;
  }

  /**
   * Block for a wake-up as {@link waitForWork} does, with a take sent right behind the BLPOP on the
   * blocking connection: the server runs it the moment the wait ends, so a woken consumer has its
   * items in the same round trip. A cancel ends the wait with a token on the wait's own unblock
   * key, so the take still answers (and the consumer gives its items back, uncounted). A take
   * whose reply was lost (the socket dropped) may have run: this handle moves to a new lease, as
   * after a reconnect of the command connection, and what the old one holds comes back when it
   * lapses (or at once when the handle closes).
   */
  private async waitAndTake(
    wait: number,
    max: number,
    signal: AbortSignal,
  ): Promise<TakeResult<LeasedItem> | undefined> {
    // Sent after this turn's puts and acks: a master that just got a result submits the next task first.
    await new Promise<void>((resolve) => this.ctx.writes.schedule(resolve, 'settle'));
    const unblock = unblockKey(this.ctx.prefix, this.name, this.ctx.nextId());
    const { client } = this.ctx;
    const ended = this.endOf(signal);
    const { result, lost } = await this.ctx.pool.waitThen(
      this.keys.wake,
      unblock,
      this.blockFor(wait),
      ended,
      () => Promise.all([client.rpush(unblock, '1'), client.pexpire(unblock, UNBLOCK_TTL_MS)]),
      (blocking) => this.take(max, blocking),
    );
    // The token of an unblock that came after the wait had ended stays: leave no key behind a cancel.
    if (ended.aborted) await client.del(unblock).catch(() => undefined);
    if (!lost) return result;
    this.renewLease();
    // A reply that did come (ioredis sent the take again after a drop) is under the old lease: back it goes.
    if (result) await this.giveBack(result.items).catch(() => undefined);
    return undefined;
  }

  private async take(max: number, client: RedisClient = this.ctx.client): Promise<TakeResult<LeasedItem>> {
    this.startHeartbeat();
    const count = Math.min(max, BATCH_ITEMS);
    const lease = this.lease;
    const args = { lease, max: count, leaseTtlMs: this.ctx.leaseTtlMs };
    const reply = (await this.send(scripts.take, args, client)) as (Buffer | number)[];
    const items: LeasedItem[] = [];
    for (let i = 1; i + 1 < reply.length; i += 2) {
      const attempt = Number(reply[i + 1]);
      const { id, priority, payload } = decodeItem(reply[i] as Buffer);
      items.push({ id, field: deliveryField(id, attempt), lease, attempt, payload, priority });
    }
    const wait = Number(reply[0]);
    return { items, wait: wait === MORE_READY ? 0 : wait, drained: wait !== MORE_READY };
  }

  /** How long to block for work: until the next timed event, never longer than maxBlockMs. */
  private blockFor(wait: number): number {
    return wait >= 0 ? Math.min(wait + 1, this.ctx.maxBlockMs) : this.ctx.maxBlockMs;
  }

  private toDelivery(taken: LeasedItem, onSettle?: () => void): RedisDelivery<T> | undefined {
    // Never let a poisoned payload stop a worker: park it on the dead-letter queue.
    const body = decodeOrDeadLetter(this.ctx.codec, taken.payload, this.deadLetterUndecodable, taken);
    if (body === UNDECODABLE) return undefined;
    return new RedisDelivery(this, taken, body as T, onSettle);
  }

  private readonly deadLetterUndecodable = (taken: LeasedItem): Promise<void> => this.deadLetter(taken, true);

  /**
   * Move a delivery to the dead-letter queue (or drop it when there is none). The copy is stored
   * before the original is acked, so a crash in between duplicates rather than loses it; two
   * steps because the two queues may live in different cluster slots.
   */
  private async deadLetter(taken: LeasedItem, undecodable: boolean): Promise<void> {
    const target = undecodable
      ? undecodableTarget(this.name, this.options.deadLetter)
      : this.options.deadLetter;
    if (target !== undefined) {
      const entry = { priority: taken.priority, delayMs: 0, item: encodeItem(taken.id, taken.payload) };
      await this.store([entry], undefined, queueKeys(this.ctx.prefix, target));
    }
    await this.ack(taken);
  }

  /** Settle a batch of acks in one script call: the delivery, its lease index entry, its deadline. */
  private async ackNow(items: LeasedItem[]): Promise<void> {
    const byLease = new Map<string, string[]>();
    for (const taken of items) {
      const fields = byLease.get(taken.lease);
      if (fields) fields.push(taken.field);
      else byLease.set(taken.lease, [taken.field]);
    }
    const each: ScriptArg[] = [];
    for (const [lease, fields] of byLease) each.push(lease, fields.length, ...fields);
    try {
      await scripts.ack.run(this.ctx.client, this.keys, {}, each);
    } catch (error) {
      throw this.closed ? this.closedError() : wrapBackendError(error, `redis: ack on "${this.name}"`);
    }
  }

  private async giveBack(items: readonly LeasedItem[]): Promise<void> {
    // Never handed to a handler: uncounted. Each goes to the back, so they keep their order.
    await Promise.all(
      items.map((taken) => this.send(scripts.nack, { delivery: taken.field, delayMs: 0, uncount: '1' })),
    );
  }

  private send<A extends string>(
    script: LuaScript<QueueKeyName, A>,
    args: Readonly<Record<A, ScriptArg>>,
    client: RedisClient = this.ctx.client,
  ) {
    return script.run(client, this.keys, args).catch((error: unknown) => {
      throw this.closed ? this.closedError() : wrapBackendError(error, `redis: queue "${this.name}"`);
    });
  }

  /**
   * Reject a waiting get or put once the close that woke it has finished, so the caller sees the
   * rejection together with the close resolving.
   */
  private async rejectClosed(): Promise<never> {
    await Promise.allSettled([this.closing, this.ctx.closing()]);
    throw this.closedError();
  }

  private closedError(): ConnectionClosedError {
    return new ConnectionClosedError(`queue "${this.name}" is closed`);
  }
}

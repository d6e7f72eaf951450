import { DecodeError, type QueueOptions } from '@taskwire/core';
import {
  type EngineConsumer,
  type EnginePutOptions,
  type EngineQueue,
  type EngineSession,
  loadPayload,
  type MemoryEngine,
  type StoredPayload,
  storePayload,
  type TaggedItem,
} from '@taskwire/core/engine';
import { resolvePeekLimit, TickBatcher } from '@taskwire/core/transport';
import {
  BATCH_MAX_ITEMS,
  batchBudget,
  checkPayloadFits,
  deliveryCost,
  payloadLimit,
  peekCost,
} from './frame-budget.js';
import type { Outbox } from './outbox.js';
import { asBytes, asUint, Push } from './protocol.js';

/** A declared queue on one connection; each has its own engine session, like a memory:// handle. */
interface Handle {
  readonly queue: EngineQueue<StoredPayload>;
  readonly session: EngineSession;
}

/** A remote consumer: deliveries the engine hands it wait in its batch until the socket's next write. */
interface RemoteConsumer {
  readonly id: number;
  readonly handleId: number;
  consumer: EngineConsumer<StoredPayload> | undefined;
  readonly deliveries: TickBatcher<TaggedItem<StoredPayload>>;
}

/**
 * What one client connection holds on the server's engine: its queue handles, consumers and subscriptions. Each
 * method is one request of the protocol, its arguments already checked; engine errors (a full queue, a
 * conflicting declaration) are thrown for the peer to answer, and a reference to an unknown handle or a reused id
 * is a {@link DecodeError} (it closes the connection).
 */
export class EngineClient {
  private readonly handles = new Map<number, Handle>();
  private readonly consumers = new Map<number, RemoteConsumer>();
  private readonly subscriptions = new Map<number, () => void>();
  /** Consumers whose batch holds deliveries for the next write. */
  private queuedConsumers: RemoteConsumer[] = [];
  /** True while the peer's output is backed up: no new deliveries, broadcasts dropped. */
  private held = false;
  /** Broadcast messages this peer missed while its output was backed up. */
  droppedMessages = 0;

  /**
   * @param maxPrefetch The largest prefetch window a consumer gets, whatever it asks for.
   * @param onQueued Told the payload bytes of every delivery and broadcast queued for the peer (it may call
   *   {@link holdOutput} at once, halfway through a turn's deliveries).
   */
  constructor(
    private readonly engine: MemoryEngine<StoredPayload>,
    private readonly outbox: Outbox,
    private readonly maxPrefetch: number,
    private readonly onQueued: (bytes: number) => void,
  ) {}

  /**
   * The peer is not reading what we send: stop handing its consumers deliveries (they stay in their queues for
   * other consumers) and drop broadcasts to it (a subscriber that is not listening misses them).
   */
  holdOutput(): void {
    if (this.held) return;
    this.held = true;
    for (const remote of this.consumers.values()) remote.consumer?.pause();
  }

  /** The peer caught up: deliveries and broadcasts flow again. */
  resumeOutput(): void {
    if (!this.held) return;
    this.held = false;
    for (const remote of this.consumers.values()) remote.consumer?.resume();
  }

  declare(handleId: number, name: string, options: QueueOptions): void {
    if (this.handles.has(handleId)) throw new DecodeError(`handle ${handleId} is already in use`);
    const queue = this.engine.declare(name, options);
    this.handles.set(handleId, { queue, session: this.engine.openSession() });
  }

  put(handleId: number, payload: Uint8Array, options: EnginePutOptions): Promise<void> {
    const { queue, session } = this.handleOf(handleId);
    checkPayloadFits(payload, this.outbox.maxFrameBytes, 'payload');
    return queue.put(storePayload(payload), options, session);
  }

  /** Store every payload in order; a promise only when a bounded queue is full and the rest must wait. */
  putMany(handleId: number, payloads: readonly unknown[]): Promise<void> | undefined {
    const { queue, session } = this.handleOf(handleId);
    // Checked before storing any, so a payload too large to deliver refuses the whole batch.
    for (const payload of payloads) {
      checkPayloadFits(asBytes(payload, 'payload'), this.outbox.maxFrameBytes, 'payload');
    }
    const stored = payloads.map((payload) => storePayload(payload as Uint8Array));
    let i = 0;
    while (i < stored.length && queue.tryPut(stored[i]!)) i++;
    if (i === stored.length) return undefined;
    // The queue is bounded and full: store the rest in order as room appears.
    return (async () => {
      for (; i < stored.length; i++) await queue.put(stored[i]!, {}, session);
    })();
  }

  /** Resolves with `[tag, id, attempt, payload]`. */
  get(handleId: number, timeoutMs: number | undefined): Promise<unknown[]> {
    const { queue, session } = this.handleOf(handleId);
    return queue
      .get(session, timeoutMs)
      .then(({ tag, item }) => [tag, item.id, item.attempt, loadPayload(item.value)]);
  }

  ack(handleId: number, tags: readonly unknown[]): void {
    const handle = this.handles.get(handleId);
    // A late ack on a closed handle is harmless: its deliveries were already requeued.
    if (handle) for (const tag of tags) handle.queue.ack(handle.session, asUint(tag, 'tag'));
  }

  nack(
    handleId: number,
    tag: number,
    options: { requeue: boolean; delayMs: number | undefined; undecodable: boolean; countAttempt: boolean },
  ): void {
    const handle = this.handles.get(handleId);
    handle?.queue.nack(handle.session, tag, options);
  }

  consume(handleId: number, id: number, prefetch: number): void {
    const { queue, session } = this.handleOf(handleId);
    if (this.consumers.has(id)) throw new DecodeError(`consumer ${id} is already in use`);
    const remote: RemoteConsumer = {
      id,
      handleId,
      consumer: undefined,
      deliveries: new TickBatcher((taken) => this.emitDeliveries(id, taken), {
        // Rides on the socket's write: queued once per batch, flushed by the outbox's beforeFlush.
        schedule: () => {
          this.queuedConsumers.push(remote);
          this.outbox.schedule();
        },
      }),
    };
    const window = Math.min(prefetch, this.maxPrefetch);
    remote.consumer = queue.consume(session, window, (taken) => {
      remote.deliveries.add(taken);
      this.onQueued(taken.item.value.length);
    });
    if (this.held) remote.consumer.pause();
    this.consumers.set(id, remote);
  }

  cancel(id: number): void {
    const remote = this.consumers.get(id);
    if (!remote) return;
    // Deliveries already made go out before the reply, so nothing arrives after it.
    remote.deliveries.flush();
    remote.consumer?.cancel();
    this.consumers.delete(remote.id);
  }

  size(handleId: number): number {
    return this.handleOf(handleId).queue.size;
  }

  purge(handleId: number): number {
    return this.handleOf(handleId).queue.purge();
  }

  closeQueue(handleId: number): void {
    const handle = this.handles.get(handleId);
    if (!handle) return;
    for (const remote of this.consumers.values()) {
      if (remote.handleId !== handleId) continue;
      remote.deliveries.take(); // still in the session's in-flight set: requeued by close() below
      this.consumers.delete(remote.id);
    }
    handle.session.close();
    this.handles.delete(handleId);
  }

  deleteQueue(handleId: number): void {
    this.engine.deleteQueue(this.handleOf(handleId).queue.name);
  }

  /** The engine's queue names, sorted. */
  listQueues(): string[] {
    return this.engine.queueNames().sort();
  }

  /** `[ready, delayed, inFlight, consumers, deadLetterName, deadLetterSize]` of queue `name`. */
  stats(name: string): unknown[] {
    const stats = this.engine.stats(name);
    return [
      stats.ready,
      stats.delayed,
      stats.inFlight,
      stats.consumers,
      stats.deadLetter.name,
      stats.deadLetter.size,
    ];
  }

  /**
   * Up to `limit` items of queue `name`, as `[id, payload, attempts, state, readyAt, priority]`: as many as fit in
   * one reply frame (always the first, which fits on its own like any delivery).
   */
  peek(name: string, limit: number): unknown[][] {
    const budget = payloadLimit(this.outbox.maxFrameBytes);
    const shown: unknown[][] = [];
    let bytes = 0;
    for (const item of this.engine.peek(name, resolvePeekLimit(limit))) {
      const payload = loadPayload(item.value);
      const cost = peekCost(item.id.length * 3, payload.length);
      if (shown.length > 0 && bytes + cost > budget) break;
      shown.push([item.id, payload, item.attempts, item.state, item.readyAt ?? null, item.priority ?? null]);
      bytes += cost;
    }
    return shown;
  }

  moveItems(from: string, to: string, limit: number | undefined, ids: string[] | undefined): number {
    return this.engine.moveItems(from, to, { limit, ids });
  }

  purgeQueue(name: string): number {
    return this.engine.purgeQueue(name);
  }

  publish(channel: string, message: Uint8Array): number {
    return this.engine.publish(channel, storePayload(message));
  }

  subscribe(id: number, channel: string): void {
    if (this.subscriptions.has(id)) throw new DecodeError(`subscription ${id} is already in use`);
    const unsubscribe = this.engine.subscribe(channel, (value) => {
      if (this.held) {
        this.droppedMessages++;
        return;
      }
      this.outbox.push([0, Push.MESSAGE, id, loadPayload(value)]);
      this.onQueued(value.length);
    });
    this.subscriptions.set(id, unsubscribe);
  }

  unsubscribe(id: number): void {
    this.subscriptions.get(id)?.();
    this.subscriptions.delete(id);
  }

  /** Close every queue handle: requeue its deliveries and reject its waiters (the client says goodbye). */
  closeQueues(): void {
    for (const handle of this.handles.values()) handle.session.close();
    this.handles.clear();
    this.consumers.clear();
    this.queuedConsumers = [];
  }

  /** Free everything (the socket is gone): unacked deliveries go back to their queues at once. */
  release(): void {
    for (const unsubscribe of this.subscriptions.values()) unsubscribe();
    this.subscriptions.clear();
    this.closeQueues();
  }

  /** Turn the deliveries waiting in consumers' batches into frames (the outbox calls it before each write). */
  readonly emitQueuedDeliveries = (): void => {
    const queued = this.queuedConsumers;
    if (queued.length === 0) return;
    this.queuedConsumers = [];
    for (const remote of queued) remote.deliveries.flush();
  };

  private handleOf(handleId: number): Handle {
    const handle = this.handles.get(handleId);
    if (!handle) throw new DecodeError(`unknown queue handle ${handleId}`);
    return handle;
  }

  /** DELIVER frames for one consumer's deliveries, split so each stays within the client's frame limit. */
  private emitDeliveries(consumerId: number, pending: TaggedItem<StoredPayload>[]): void {
    const budget = batchBudget(this.outbox.maxFrameBytes);
    let start = 0;
    while (start < pending.length) {
      const tags: number[] = [];
      const ids: string[] = [];
      const attempts: number[] = [];
      const payloads: Uint8Array[] = [];
      let bytes = 0;
      for (let i = start; i < pending.length && tags.length < BATCH_MAX_ITEMS; i++) {
        const { tag, item } = pending[i]!;
        const payload = loadPayload(item.value);
        // An id's UTF-8 length is at most three bytes per UTF-16 unit; ids are short, so the bound costs nothing.
        const cost = deliveryCost(item.id.length * 3, payload.length);
        // Always one item: a payload within the limit fits in a frame on its own.
        if (tags.length > 0 && bytes + cost > budget) break;
        tags.push(tag);
        ids.push(item.id);
        attempts.push(item.attempt);
        payloads.push(payload);
        bytes += cost;
      }
      start += tags.length;
      this.outbox.push([0, Push.DELIVER, consumerId, tags, ids, attempts, payloads]);
    }
  }
}

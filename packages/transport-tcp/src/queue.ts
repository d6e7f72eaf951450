import {
  type Codec,
  ConnectionClosedError,
  type ConsumeOptions,
  type ConsumerHandle,
  checkOptionalDuration,
  type Delivery,
  type DeliveryHandler,
  type DistributedQueue,
  type GetOptions,
  type NackOptions,
  type PutOptions,
  type QueueOptions,
} from '@taskwire/core';
import {
  BaseDelivery,
  checkPutOptions,
  decodeOrDeadLetter,
  resolvePrefetch,
  UNDECODABLE,
} from '@taskwire/core/transport';
import { checkPayloadFits } from './frame-budget.js';
import { asArray, asBytes, asString, asUint, Op } from './protocol.js';
import type { ClientConsumer, HandleState, QueueContext } from './queue-context.js';

/** One delivery received over TCP. Settling it after its connection dropped is a harmless no-op. */
export class TcpDelivery<T> extends BaseDelivery<T> {
  constructor(
    private readonly queue: TcpQueue<T>,
    private readonly epoch: number,
    private readonly tag: number,
    readonly id: string,
    readonly attempt: number,
    readonly body: T,
  ) {
    super();
  }

  protected settleAck(): Promise<void> {
    return this.queue.connection.ack(this.queue, this.tag, this.epoch);
  }

  protected settleNack(options: NackOptions): Promise<void> {
    return this.queue.connection.nack(this.queue, this.tag, this.epoch, options, false);
  }
}

/**
 * A queue handle on a {@link TcpConnection}. Plain puts (no options) and acks are batched per
 * event-loop turn into one frame each; everything else is one pipelined request.
 */
export class TcpQueue<T> implements DistributedQueue<T>, HandleState {
  /** True after `close()`. */
  closed = false;
  /** Consumers started on this handle. */
  readonly consumers = new Set<ClientConsumer>();

  constructor(
    /** The connection this handle lives on. */
    readonly connection: QueueContext,
    /** Client-chosen id of this handle on the server. */
    readonly handle: number,
    readonly name: string,
    /** Declared options, sent again after a reconnect. */
    readonly options: QueueOptions,
    private readonly codec: Codec,
  ) {}

  put(item: T, options: PutOptions = {}): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError());
    let payload: Uint8Array;
    try {
      checkPutOptions(options);
      payload = this.encode(item);
    } catch (error) {
      return Promise.reject(error);
    }
    if (options.priority === undefined && options.delayMs === undefined && options.timeoutMs === undefined) {
      return this.connection.put(this.handle, payload);
    }
    return this.connection.request([
      0,
      Op.PUT,
      this.handle,
      payload,
      options.priority ?? null,
      options.delayMs ?? null,
      options.timeoutMs ?? null,
    ]) as Promise<void>;
  }

  async putMany(items: Iterable<T>, options: PutOptions = {}): Promise<void> {
    if (this.closed) throw this.closedError();
    checkPutOptions(options);
    // Encode everything first so an oversized item refuses the whole batch, not half of it.
    const payloads: Uint8Array[] = [];
    for (const item of items) payloads.push(this.encode(item));
    const plain =
      options.priority === undefined && options.delayMs === undefined && options.timeoutMs === undefined;
    const waits: Promise<unknown>[] = [];
    let last: Promise<unknown> | undefined;
    for (const payload of payloads) {
      const wait = plain
        ? this.connection.put(this.handle, payload)
        : this.connection.request([
            0,
            Op.PUT,
            this.handle,
            payload,
            options.priority ?? null,
            options.delayMs ?? null,
            options.timeoutMs ?? null,
          ]);
      // Puts of one batch share a promise; wait on each distinct one.
      if (wait !== last) waits.push(wait);
      last = wait;
    }
    await Promise.all(waits);
  }

  async get(options: GetOptions = {}): Promise<Delivery<T>> {
    if (this.closed) throw this.closedError();
    checkOptionalDuration(options.timeoutMs, 'timeoutMs');
    const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
    for (;;) {
      const remaining = deadline === undefined ? null : Math.max(0, deadline - Date.now());
      const epoch = this.connection.epoch;
      const reply = asArray(await this.connection.request([0, Op.GET, this.handle, remaining]), 'get reply');
      const delivery = this.toDelivery(
        epoch,
        asUint(reply[0], 'tag'),
        asString(reply[1], 'id'),
        asUint(reply[2], 'attempt'),
        asBytes(reply[3], 'payload'),
      );
      // An undecodable item has been dead-lettered; keep waiting for a good one.
      if (delivery) return delivery;
    }
  }

  async consume(handler: DeliveryHandler<T>, options: ConsumeOptions = {}): Promise<ConsumerHandle> {
    if (this.closed) throw this.closedError();
    const prefetch = resolvePrefetch(options.prefetch);
    const consumer = this.connection.addConsumer(this, handler, prefetch);
    this.consumers.add(consumer);
    try {
      await this.connection.request([0, Op.CONSUME, this.handle, consumer.id, prefetch]);
    } catch (error) {
      consumer.active = false;
      this.consumers.delete(consumer);
      this.connection.removeConsumer(consumer);
      throw error;
    }
    return { cancel: () => this.cancel(consumer) };
  }

  async size(): Promise<number> {
    if (this.closed) throw this.closedError();
    return asUint(await this.connection.request([0, Op.SIZE, this.handle]), 'size');
  }

  async purge(): Promise<number> {
    if (this.closed) throw this.closedError();
    return asUint(await this.connection.request([0, Op.PURGE, this.handle]), 'purged');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const consumer of this.consumers) this.connection.removeConsumer(consumer);
    this.consumers.clear();
    this.connection.forgetQueue(this);
    // Batched puts go out before this request, so their replies come first (close waits for them).
    await this.connection.request([0, Op.CLOSE_QUEUE, this.handle]).catch(ignoreClosed);
  }

  async delete(): Promise<void> {
    if (this.closed) throw this.closedError();
    await this.connection.request([0, Op.DELETE_QUEUE, this.handle]);
    await this.close();
  }

  /** Turn a received item into a delivery, or dead-letter it when it cannot be decoded. */
  toDelivery(
    epoch: number,
    tag: number,
    id: string,
    attempt: number,
    payload: Uint8Array,
  ): TcpDelivery<T> | undefined {
    // Dead-lettered at once, in this same turn: `epoch` is still the connection's.
    const body = decodeOrDeadLetter(this.codec, payload, this.deadLetterUndecodable, tag);
    if (body === UNDECODABLE) return undefined;
    return new TcpDelivery(this, epoch, tag, id, attempt, body as T);
  }

  private readonly deadLetterUndecodable = (tag: number): Promise<void> =>
    this.connection.nack(this, tag, this.connection.epoch, { requeue: false }, true);

  private async cancel(consumer: ClientConsumer): Promise<void> {
    if (!consumer.active) return;
    consumer.active = false;
    this.consumers.delete(consumer);
    try {
      await this.connection.request([0, Op.CANCEL, consumer.id]);
    } catch (error) {
      ignoreClosed(error);
    } finally {
      this.connection.removeConsumer(consumer);
    }
  }

  private encode(item: T): Uint8Array {
    const payload = this.codec.encode(item);
    checkPayloadFits(payload, this.connection.maxFrameBytes, 'payload');
    return payload;
  }

  private closedError(): ConnectionClosedError {
    return new ConnectionClosedError(`queue "${this.name}" is closed`);
  }
}

/** Swallow a ConnectionClosedError (the server already dropped what we wanted to release). */
function ignoreClosed(error: unknown): void {
  if (!ConnectionClosedError.isInstance(error)) throw error;
}

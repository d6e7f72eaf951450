import type { Delivery, DeliveryHandler, NackOptions, QueueOptions } from '@taskwire/core';

/** What a connection needs to know of one of its queue handles. */
export interface HandleState {
  /** Client-chosen id of this handle on the server. */
  readonly handle: number;
  readonly name: string;
  /** Declared options, sent again after a reconnect. */
  readonly options: QueueOptions;
  /** True after `close()`: its deliveries can no longer be settled. */
  readonly closed: boolean;
  /** Turn a pushed item into a delivery, or dead-letter it when it cannot be decoded. */
  toDelivery(
    epoch: number,
    tag: number,
    id: string,
    attempt: number,
    payload: Uint8Array,
  ): (Delivery<unknown> & { readonly settled: boolean }) | undefined;
}

/** A `consume()` registered on a connection (re-registered after a reconnect). */
export interface ClientConsumer {
  readonly id: number;
  readonly queue: HandleState;
  readonly handler: DeliveryHandler<any>;
  readonly prefetch: number;
  /** False once cancelled: late deliveries are handed back. */
  active: boolean;
}

/**
 * What a queue handle asks of its connection. The queue depends on this interface only, never on the connection
 * class, so the two modules do not import each other.
 */
export interface QueueContext {
  /** Increases on every (re)connect; deliveries from an older epoch cannot be settled. */
  readonly epoch: number;
  /** The server's frame limit (puts above it are refused locally). */
  readonly maxFrameBytes: number;
  /** Send a request and resolve with the server's result. */
  request(message: unknown[]): Promise<unknown>;
  /** A plain put, batched with the other plain puts to the same handle made during this turn. */
  put(handle: number, payload: Uint8Array): Promise<void>;
  /** Ack a delivery, batched per handle and turn. Never rejects for a delivery already given back. */
  ack(queue: HandleState, tag: number, epoch: number): Promise<void>;
  /** Nack a delivery (`undecodable` dead-letters it to `<queue>.dead` without a deadLetter queue). Never rejects. */
  nack(
    queue: HandleState,
    tag: number,
    epoch: number,
    options: NackOptions,
    undecodable: boolean,
  ): Promise<void>;
  /** Register a consumer id before its CONSUME request goes out. */
  addConsumer(queue: HandleState, handler: DeliveryHandler<any>, prefetch: number): ClientConsumer;
  removeConsumer(consumer: ClientConsumer): void;
  /** The handle closed: send what its batches hold and stop tracking it. */
  forgetQueue(queue: HandleState): void;
}

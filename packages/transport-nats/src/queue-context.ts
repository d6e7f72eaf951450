import type { Codec } from '@taskwire/core';
import type { MsgHdrs, NatsConnection, PubAck } from 'nats';
import type { QueueNames } from './names.js';

/** Counts of one queue, from its consumer and its delay subject. */
export interface QueueCounts {
  readonly ready: number;
  readonly delayed: number;
  readonly inFlight: number;
}

/** A queue's count of waiting items (ready + delayed), taken after reading its stream's last sequence. */
export interface QueueRoom {
  readonly lastSeq: number;
  readonly waiting: number;
}

/** A message ready to publish: a payload too large for one message already stored apart. */
export interface Stowed {
  readonly payload: Uint8Array;
  readonly headers: MsgHdrs | undefined;
}

/** What a queue handle needs from its connection. */
export interface QueueContext {
  readonly nc: NatsConnection;
  readonly codec: Codec;
  /** The durable consumer's name. */
  readonly consumer: string;
  /** How long an ack or a publish waits for the server's reply. */
  readonly requestTimeoutMs: number;
  /**
   * Send a request once the link is up, and reject with a retryable `BackendError` if the link drops before its
   * reply (which would then never come).
   */
  guard<T>(send: () => Promise<T>): Promise<T>;
  /** Ack the delivery whose ack subject is `reply`; resolves once the server has processed it. */
  ack(reply: string): Promise<void>;
  /** Resolves once the connection's `close()` is over (at once when it is not closing). */
  closed(): Promise<void>;
  /** Publish to a stream and wait for its ack; a payload too large for one message is stored apart. */
  publishItem(subject: string, payload: Uint8Array, headers?: MsgHdrs): Promise<PubAck>;
  /** Store a payload too large for one message apart (its key in `Tw-Blob`); others as they are. */
  stow(payload: Uint8Array, headers?: MsgHdrs): Promise<Stowed>;
  /** Publish a stowed message and wait for its ack; rejects if the stream's last sequence is not `expectLastSequence`. */
  publishStowed(
    subject: string,
    payload: Uint8Array,
    headers: MsgHdrs | undefined,
    expectLastSequence?: number,
  ): Promise<PubAck>;
  readBlob(key: string): Promise<Uint8Array>;
  deleteBlob(key: string): void;
  /** Declare queue `name` (a dead-letter target) with its existing or default options. */
  declareTarget(name: string): Promise<QueueNames>;
  counts(names: QueueNames): Promise<QueueCounts>;
  /** The stream's last sequence, then the waiting items: what a bounded put checks and expects. */
  room(names: QueueNames): Promise<QueueRoom>;
  purge(name: string): Promise<number>;
  drop(name: string): Promise<void>;
  /** Throw the connection's failure, or `ConnectionClosedError` when it or the handle (`closed`) is closed. */
  check(closed: boolean, name: string): void;
}

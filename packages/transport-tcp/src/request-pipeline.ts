import { ConnectionClosedError } from '@taskwire/core';
import { type Deferred, deferred } from './deferred.js';
import { FrameBatch } from './frame-batch.js';
import { ACK_COST, batchBudget, putCost } from './frame-budget.js';
import type { Outbox } from './outbox.js';
import { errorFromWire, Op, Status } from './protocol.js';

/**
 * The requests of one client connection: each gets an id and a pending reply, and plain puts and acks made during
 * one turn are batched per queue handle into PUT_MANY and ACK frames, each within the server's frame limit.
 * Everything goes through the outbox of the current socket, so it leaves in that socket's one write per turn.
 */
export class RequestPipeline {
  private outbox: Outbox | undefined;
  private nextRequestId = 0;
  private readonly pending = new Map<number, Deferred<unknown>>();
  private readonly putBatches = new Map<number, FrameBatch<Uint8Array>>();
  private readonly ackBatches = new Map<number, FrameBatch<number>>();
  /** While the connection closes, error replies wait here and settle as its close() returns. */
  private heldErrors: [Deferred<unknown>, Error][] | undefined;

  /** Send through `outbox` from now on (undefined: no socket). */
  attach(outbox: Outbox | undefined): void {
    this.outbox = outbox;
  }

  /** Send a request now (after the batches filled earlier this turn, so it sees their effect). */
  send(outbox: Outbox, message: unknown[]): Promise<unknown> {
    this.flushBatches();
    const done = deferred<unknown>();
    this.emit(outbox, message, done);
    return done.promise;
  }

  /** A plain put to `handle` (its size already checked against the limit), batched with this turn's others. */
  put(handle: number, payload: Uint8Array): Promise<void> {
    let batch = this.putBatches.get(handle);
    if (!batch) {
      batch = this.batch((payloads) => this.request([0, Op.PUT_MANY, handle, payloads]));
      this.putBatches.set(handle, batch);
    }
    return batch.add(payload, putCost(payload.length), this.budget());
  }

  /** An ack on `handle`, batched with this turn's others. */
  ack(handle: number, tag: number): Promise<void> {
    let batch = this.ackBatches.get(handle);
    if (!batch) {
      batch = this.batch((tags) => this.request([0, Op.ACK, handle, tags]));
      this.ackBatches.set(handle, batch);
    }
    return batch.add(tag, ACK_COST, this.budget());
  }

  /** Turn every batch into its frame now (the outbox's flush calls this first). */
  readonly flushBatches = (): void => {
    for (const batch of this.putBatches.values()) batch.flush();
    for (const batch of this.ackBatches.values()) batch.flush();
  };

  /** Send what `handle`'s batches hold and drop them (the handle closed). */
  forget(handle: number): void {
    this.putBatches.get(handle)?.flush();
    this.ackBatches.get(handle)?.flush();
    this.putBatches.delete(handle);
    this.ackBatches.delete(handle);
  }

  /** Settle the request a reply answers (unknown ids are ignored). */
  onReply(id: number, message: unknown[]): void {
    const done = this.pending.get(id);
    if (!done) return;
    this.pending.delete(id);
    if (message[1] === Status.OK) done.resolve(message[2]);
    else if (this.heldErrors) this.heldErrors.push([done, errorFromWire(message[2], message[3])]);
    else done.reject(errorFromWire(message[2], message[3]));
  }

  /**
   * From now until {@link releaseErrors}, error replies are held back: a caller who awaits the connection's
   * close() before handling a waiting get then sees no unhandled rejection.
   */
  holdErrors(): void {
    this.heldErrors = [];
  }

  /** Reject the held error replies. */
  releaseErrors(): void {
    const held = this.heldErrors ?? [];
    this.heldErrors = undefined;
    for (const [done, error] of held) done.reject(error);
  }

  /** The socket is gone: reject every pending request and unsent put with `reason`. */
  fail(reason: Error): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const done of pending) done.reject(reason);
    for (const batch of this.putBatches.values()) batch.discard(reason);
    // Unsent acks are moot: the server requeued those deliveries when the socket dropped.
    for (const batch of this.ackBatches.values()) batch.discard();
  }

  private batch<T>(onFlush: (items: T[]) => Promise<unknown>): FrameBatch<T> {
    // Batches ride on the outbox's flush (its beforeFlush is flushBatches): one write per turn.
    return new FrameBatch(onFlush, () => this.outbox?.schedule());
  }

  /** Item bytes one batch frame to the current socket may carry (nothing is sent without a socket). */
  private budget(): number {
    return this.outbox ? batchBudget(this.outbox.maxFrameBytes) : Number.POSITIVE_INFINITY;
  }

  private request(message: unknown[]): Promise<unknown> {
    const done = deferred<unknown>();
    if (this.outbox) this.emit(this.outbox, message, done);
    else done.reject(new ConnectionClosedError('the connection dropped before this batch was sent'));
    return done.promise;
  }

  private emit(outbox: Outbox, message: unknown[], done: Deferred<unknown>): void {
    this.nextRequestId = this.nextRequestId >= 0xffffffff ? 1 : this.nextRequestId + 1;
    message[0] = this.nextRequestId;
    this.pending.set(this.nextRequestId, done);
    outbox.push(message);
  }
}

import {
  checkOptionalDuration,
  type Delivery,
  type LongTimeout,
  type NackOptions,
  setLongTimeout,
} from '@taskwire/core';
import type { Channel, Message } from 'amqplib';
import { ATTEMPT_HEADER } from './arguments.js';
import { closeQuietly } from './link.js';

/**
 * The channel deliveries arrive on. Acks must go back on that channel; once it has closed the
 * broker has already requeued everything it held, so settling becomes a no-op.
 *
 * Acks are coalesced: those made in one turn of the event loop go out as one `basic.ack` with
 * `multiple` up to the highest tag below every still-unsettled delivery (tags only grow on a
 * channel), which saves the broker most of its per-ack work. Rejects go out at once.
 */
export class Holder {
  /** False once the channel has closed. */
  alive = true;
  // Insertion order is tag order, so the first entry is the lowest unsettled tag.
  private readonly unsettled = new Set<number>();
  private acked: number[] = [];
  private flushScheduled = false;

  constructor(readonly channel: Channel) {
    channel.once('close', () => {
      this.alive = false;
      this.unsettled.clear();
      this.acked = [];
    });
  }

  /** Record a delivery that arrived on this channel. */
  received(message: Message): void {
    this.unsettled.add(message.fields.deliveryTag);
  }

  /** Acknowledge (coalesced into the next flush). */
  ack(message: Message): void {
    if (!this.alive || !this.unsettled.delete(message.fields.deliveryTag)) return;
    this.acked.push(message.fields.deliveryTag);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Reject now: requeue in place, or dead-letter. */
  reject(message: Message, requeue: boolean): void {
    if (!this.alive || !this.unsettled.delete(message.fields.deliveryTag)) return;
    try {
      this.channel.nack(message, false, requeue);
    } catch {
      // the channel is closing: the broker requeues the delivery anyway
    }
  }

  /**
   * Resolves once the broker has processed every ack sent so far: the reply to a passive declare of `queue`
   * comes back after the frames before it on this channel. Giving an item back relies on it (the original must
   * be gone before the caller moves on, or a crash right after brings it back with one more attempt).
   */
  async confirmAcks(queue: string): Promise<void> {
    this.flush();
    if (!this.alive) return;
    await this.channel.checkQueue(queue).catch(() => undefined);
  }

  /** Send the acks made so far. */
  flush(): void {
    this.flushScheduled = false;
    if (!this.alive || this.acked.length === 0) return;
    const lowestUnsettled = this.unsettled.values().next().value ?? Number.POSITIVE_INFINITY;
    const acked = this.acked;
    this.acked = [];
    let highestBelow = 0;
    try {
      for (const tag of acked) {
        if (tag < lowestUnsettled) highestBelow = Math.max(highestBelow, tag);
        else this.channel.ack(tagged(tag));
      }
      if (highestBelow > 0) this.channel.ack(tagged(highestBelow), true);
    } catch {
      // the channel is closing: its unacked deliveries return to the queue (at-least-once)
    }
  }

  /** Flush pending acks, then close the channel (returning unsettled deliveries). */
  async close(): Promise<void> {
    this.flush();
    await closeQuietly(this.channel);
  }
}

/** The minimal message amqplib's `ack` needs: only the delivery tag is read. */
function tagged(deliveryTag: number): Message {
  return { fields: { deliveryTag } } as Message;
}

/** What a delivery needs from its queue to give an item back with a new attempt count. */
export interface RequeueTarget {
  /**
   * Publish a copy of `message` recording `attempt` deliveries so far, onto the queue itself or,
   * with `delayMs`, onto its delay queue. Resolves false when the broker refused it (queue full).
   */
  publishCopy(message: Message, attempt: number, delayMs: number): Promise<boolean>;
  /** The queue's name on the broker. */
  readonly name: string;
}

/** The attempt number of `message`: deliveries recorded in its header, plus this one. */
export function attemptOf(message: Message): number {
  const recorded = Number(message.properties.headers?.[ATTEMPT_HEADER] ?? 0) || 0;
  // `redelivered`: the broker gave it back once since the header was written (a delivery whose
  // channel closed unsettled). Such a message is passed back with the header rewritten before it
  // reaches a handler, so this flag only ever adds the one delivery the header does not know of.
  return recorded + 1 + (message.fields.redelivered ? 1 : 0);
}

/** One delivery from RabbitMQ. Settling twice is a no-op. */
export class RabbitMQDelivery<T> implements Delivery<T> {
  /** True once acked, nacked or expired. */
  settled = false;
  private timer: LongTimeout | undefined;

  constructor(
    private readonly target: RequeueTarget,
    private readonly holder: Holder,
    private readonly message: Message,
    readonly id: string,
    readonly body: T,
    visibilityTimeoutMs: number,
  ) {
    if (visibilityTimeoutMs > 0) {
      // Enforced by the holder: RabbitMQ only returns a delivery when its channel closes.
      this.timer = setLongTimeout(() => this.expire(), visibilityTimeoutMs).unref();
    }
  }

  /** 1 on the first delivery, 2 on the first redelivery, and so on. */
  get attempt(): number {
    return attemptOf(this.message);
  }

  async ack(): Promise<void> {
    if (!this.settle()) return;
    this.holder.ack(this.message);
  }

  async nack(options: NackOptions = {}): Promise<void> {
    checkOptionalDuration(options.delayMs, 'delayMs');
    if (!this.settle()) return;
    await this.giveBack(options.requeue ?? true, options.delayMs ?? 0, options.countAttempt ?? true);
  }

  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.timer?.clear();
    return true;
  }

  private expire(): void {
    if (this.settle()) void this.giveBack(true, 0, true).catch(() => undefined);
  }

  private async giveBack(requeue: boolean, delayMs: number, countAttempt: boolean): Promise<void> {
    if (!this.holder.alive) return;
    if (!requeue) {
      this.holder.reject(this.message, false); // the dead-letter exchange routes it
      return;
    }
    // RabbitMQ's own requeue only sets the boolean `redelivered`, which cannot count a second
    // return. So the item goes back as a confirmed copy whose header records the deliveries so far
    // (this one too unless `countAttempt` is false), to the back of the queue or to its delay
    // queue, and then the original is acked.
    const recorded = countAttempt ? this.attempt : this.attempt - 1;
    if (await this.target.publishCopy(this.message, recorded, delayMs)) {
      this.holder.ack(this.message);
      await this.holder.confirmAcks(this.target.name);
      return;
    }
    // The copy was refused (a full queue): requeue natively; the redelivery is counted then.
    this.holder.reject(this.message, true);
  }
}

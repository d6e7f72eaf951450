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
}

/** The attempt number of `message`: deliveries recorded in its header, plus this one. */
export function attemptOf(message: Message): number {
  const recorded = Number(message.properties.headers?.[ATTEMPT_HEADER] ?? 0) || 0;
  // `redelivered` means the broker gave it back once without us rewriting the header.
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
    await this.giveBack(options.requeue ?? true, options.delayMs ?? 0);
  }

  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.timer?.clear();
    return true;
  }

  private expire(): void {
    if (this.settle()) void this.giveBack(true, 0).catch(() => undefined);
  }

  private async giveBack(requeue: boolean, delayMs: number): Promise<void> {
    if (!this.holder.alive) return;
    if (!requeue) {
      this.holder.reject(this.message, false); // the dead-letter exchange routes it
      return;
    }
    // A native requeue keeps the item's place (served before later items) and the broker marks it
    // redelivered, which counts one attempt. Delays, and items already marked redelivered, go back
    // as a confirmed copy carrying the attempt count in a header, then the original is acked.
    if (delayMs > 0 || this.message.fields.redelivered) {
      if (await this.target.publishCopy(this.message, this.attempt, delayMs)) {
        this.holder.ack(this.message);
        return;
      }
    }
    this.holder.reject(this.message, true);
  }
}

import { TickBatcher } from '@taskwire/core/transport';
import type { Channel, Message } from 'amqplib';
import { closeQuietly } from './reconnecting-connection.js';

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
  private readonly acks = new TickBatcher<number>((tags) => this.sendAcks(tags));

  constructor(readonly channel: Channel) {
    channel.once('close', () => {
      this.alive = false;
      this.unsettled.clear();
      this.acks.take();
    });
  }

  /** Record a delivery that arrived on this channel. */
  received(message: Message): void {
    this.unsettled.add(message.fields.deliveryTag);
  }

  /** Acknowledge (coalesced into the next flush). */
  ack(message: Message): void {
    if (!this.alive || !this.unsettled.delete(message.fields.deliveryTag)) return;
    this.acks.add(message.fields.deliveryTag);
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
    this.acks.flush();
  }

  /** Flush pending acks, then close the channel (returning unsettled deliveries). */
  async close(): Promise<void> {
    this.flush();
    await closeQuietly(this.channel);
  }

  private sendAcks(acked: number[]): void {
    if (!this.alive) return;
    const lowestUnsettled = this.unsettled.values().next().value ?? Number.POSITIVE_INFINITY;
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
}

/** The minimal message amqplib's `ack` needs: only the delivery tag is read. */
function tagged(deliveryTag: number): Message {
  return { fields: { deliveryTag } } as Message;
}

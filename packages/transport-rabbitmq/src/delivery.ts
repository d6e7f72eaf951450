import { type LongTimeout, type NackOptions, setLongTimeout } from '@taskwire/core';
import { BaseDelivery } from '@taskwire/core/transport';
import type { Message } from 'amqplib';
import { ATTEMPT_HEADER } from './arguments.js';
import type { Holder } from './holder.js';

const SETTLED = Promise.resolve();

/** What a delivery needs from its queue to give an item back with a new attempt count. */
export interface RequeueTarget {
  /**
   * Publish a copy of `message` recording `attempt` deliveries so far, onto the queue itself or,
   * with `delayMs`, onto its delay queue (a bounded queue's due queue when the queue is full). Resolves false when
   * the broker refused it.
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

/** One delivery from RabbitMQ. Settling twice is a no-op; so is settling after its visibility timeout expired. */
export class RabbitMQDelivery<T> extends BaseDelivery<T> {
  private timer: LongTimeout | undefined;

  constructor(
    private readonly target: RequeueTarget,
    private readonly holder: Holder,
    private readonly message: Message,
    readonly id: string,
    readonly body: T,
    visibilityTimeoutMs: number,
  ) {
    super();
    if (visibilityTimeoutMs > 0) {
      // Enforced by the holder: RabbitMQ only returns a delivery when its channel closes.
      this.timer = setLongTimeout(() => this.expire(), visibilityTimeoutMs).unref();
    }
  }

  /** 1 on the first delivery, 2 on the first redelivery, and so on. */
  get attempt(): number {
    return attemptOf(this.message);
  }

  protected override onSettled(): void {
    this.timer?.clear();
  }

  protected settleAck(): Promise<void> {
    this.holder.ack(this.message);
    return SETTLED;
  }

  protected settleNack(options: NackOptions): Promise<void> {
    return this.giveBack(options.requeue ?? true, options.delayMs ?? 0, options.countAttempt ?? true);
  }

  private expire(): void {
    if (this.claim()) void this.giveBack(true, 0, true).catch(() => undefined);
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
    // The copy was refused (the queue was deleted, say): requeue natively; the redelivery is counted then.
    this.holder.reject(this.message, true);
  }
}

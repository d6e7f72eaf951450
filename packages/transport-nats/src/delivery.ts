import type { NackOptions } from '@taskwire/core';
import { BaseDelivery } from '@taskwire/core/transport';
import type { Msg } from 'nats';

/** What a delivery settles through: its queue handle. */
export interface DeliveryOwner {
  ack(delivery: NatsDelivery<unknown>): Promise<void>;
  nack(delivery: NatsDelivery<unknown>, options: NackOptions): Promise<void>;
  release(delivery: NatsDelivery<unknown>): void;
}

/** One JetStream delivery: settled by acking its message (after publishing a copy where it goes back or on). */
export class NatsDelivery<T> extends BaseDelivery<T> {
  /** Called once when it settles: frees its consumer's prefetch slot. */
  onRelease: (() => void) | undefined;

  constructor(
    private readonly owner: DeliveryOwner,
    /** The message as delivered: its ack subject settles it. */
    readonly msg: Msg,
    readonly id: string,
    readonly body: T,
    readonly attempt: number,
  ) {
    super();
  }

  /** Settle it without telling the server (a dropped link: the server redelivers it after its ack wait). */
  forget(): void {
    this.claim();
  }

  protected override onSettled(): void {
    this.owner.release(this as NatsDelivery<unknown>);
    this.onRelease?.();
  }

  protected settleAck(): Promise<void> {
    return this.owner.ack(this as NatsDelivery<unknown>);
  }

  protected settleNack(options: NackOptions): Promise<void> {
    return this.owner.nack(this as NatsDelivery<unknown>, options);
  }
}

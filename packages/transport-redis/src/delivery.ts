import type { NackOptions } from '@taskwire/core';
import { BaseDelivery } from '@taskwire/core/transport';

/** One item as the take script returned it: held under this handle's lease until settled. */
export interface LeasedItem {
  readonly id: string;
  /** `id|attempt`: the server's name of this delivery. */
  readonly field: string;
  /** The lease it was taken under (its index of deliveries is `holdsKey(keys, lease)`). */
  readonly lease: string;
  /** Deliveries so far, this one included. */
  readonly attempt: number;
  /** The msgpack payload, kept for dead-lettering without re-encoding. */
  readonly payload: Buffer;
  readonly priority: number;
}

/** Where a delivery's settlement goes (its queue handle). */
export interface Settler {
  ack(taken: LeasedItem): Promise<void>;
  nack(taken: LeasedItem, options: NackOptions): Promise<void>;
}

/**
 * A delivery from Redis. The server settles it only while this exact delivery (id and attempt)
 * is still held, so settling twice, or after the item was redelivered elsewhere, is harmless.
 */
export class RedisDelivery<T> extends BaseDelivery<T> {
  constructor(
    private readonly settler: Settler,
    private readonly taken: LeasedItem,
    readonly body: T,
    private readonly onSettle?: () => void,
  ) {
    super();
  }

  get id(): string {
    return this.taken.id;
  }

  get attempt(): number {
    return this.taken.attempt;
  }

  protected override onSettled(): void {
    this.onSettle?.();
  }

  protected settleAck(): Promise<void> {
    return this.settler.ack(this.taken);
  }

  protected settleNack(options: NackOptions): Promise<void> {
    return this.settler.nack(this.taken, options);
  }
}

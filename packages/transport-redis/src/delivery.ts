import { checkOptionalDuration, type Delivery, type NackOptions } from '@taskwire/core';

/** One item as the take script returned it. */
export interface Taken {
  readonly id: string;
  /** `id|attempt`: the server's name of this delivery. */
  readonly field: string;
  /** Deliveries so far, this one included. */
  readonly attempt: number;
  /** The msgpack payload, kept for dead-lettering without re-encoding. */
  readonly payload: Buffer;
  readonly priority: number;
}

/** Where a delivery's settlement goes (its queue handle). */
export interface Settler {
  ack(taken: Taken): Promise<void>;
  nack(taken: Taken, options: NackOptions): Promise<void>;
}

/**
 * A delivery from Redis. The server settles it only while this exact delivery (id and attempt)
 * is still held, so settling twice, or after the item was redelivered elsewhere, is harmless.
 */
export class RedisDelivery<T> implements Delivery<T> {
  /** True once `ack` or `nack` was called. */
  settled = false;

  constructor(
    private readonly settler: Settler,
    private readonly taken: Taken,
    readonly body: T,
    private readonly onSettle?: () => void,
  ) {}

  get id(): string {
    return this.taken.id;
  }

  get attempt(): number {
    return this.taken.attempt;
  }

  ack(): Promise<void> {
    if (!this.markSettled()) return Promise.resolve();
    return this.settler.ack(this.taken);
  }

  nack(options: NackOptions = {}): Promise<void> {
    try {
      checkOptionalDuration(options.delayMs, 'delayMs');
    } catch (error) {
      return Promise.reject(error);
    }
    if (!this.markSettled()) return Promise.resolve();
    return this.settler.nack(this.taken, options);
  }

  private markSettled(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.onSettle?.();
    return true;
  }
}

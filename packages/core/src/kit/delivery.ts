import { checkOptionalDuration } from '../duration.js';
import type { Delivery, DeliveryHandler, NackOptions } from '../types.js';

const SETTLED = Promise.resolve();

/**
 * What every delivery shares: it settles once. The first `ack()` or `nack()` goes to the backend; any later one
 * resolves at once and does nothing (the contract: settling twice is a no-op). A `nack()` with a bad `delayMs`
 * rejects with a `RangeError` and settles nothing.
 *
 * A transport extends it with {@link settleAck} and {@link settleNack}, which run at most once in all. Both may
 * return a shared resolved promise: the guard allocates nothing per delivery.
 *
 * @example
 * class MyDelivery<T> extends BaseDelivery<T> {
 *   constructor(private readonly queue: MyQueue, readonly id: string, readonly attempt: number, readonly body: T) {
 *     super();
 *   }
 *   protected settleAck() { return this.queue.ack(this.id); }
 *   protected settleNack(options: NackOptions) { return this.queue.nack(this.id, options); }
 * }
 */
export abstract class BaseDelivery<T> implements Delivery<T> {
  /** True once acked, nacked, or settled by the transport itself (expired, dead-lettered). */
  settled = false;
  abstract readonly id: string;
  abstract readonly body: T;
  abstract readonly attempt: number;

  ack(): Promise<void> {
    if (!this.claim()) return SETTLED;
    return this.settleAck();
  }

  nack(options: NackOptions = {}): Promise<void> {
    try {
      checkOptionalDuration(options.delayMs, 'delayMs');
    } catch (error) {
      return Promise.reject(error);
    }
    if (!this.claim()) return SETTLED;
    return this.settleNack(options);
  }

  /**
   * Mark the delivery settled; false when it already was. A transport calls it itself when it settles a delivery
   * without the user (a visibility timeout, dead-lettering): the user's later `ack()` is then a no-op.
   */
  protected claim(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.onSettled();
    return true;
  }

  /** Called once, when the delivery becomes settled (free a timer, count a prefetch slot back). */
  protected onSettled(): void {}

  /** Remove the item for good (called at most once, and never after {@link settleNack}). */
  protected abstract settleAck(): Promise<void>;

  /** Requeue or dead-letter the item as `options` say (called at most once, never after {@link settleAck}). */
  protected abstract settleNack(options: NackOptions): Promise<void>;
}

/**
 * Run a consume handler on one delivery; a handler that throws (or rejects) before settling it nacks it with
 * requeue, as the contract says. Never rejects. A handler that returns no promise (it settled the delivery or
 * handed it on) costs no promise here: this runs once per delivery on every transport.
 */
export function runHandler<T>(
  handler: DeliveryHandler<T>,
  delivery: Delivery<T> & { readonly settled: boolean },
): Promise<void> | undefined {
  let returned: unknown;
  try {
    returned = handler(delivery);
  } catch {
    return requeueUnsettled(delivery);
  }
  if (typeof (returned as PromiseLike<unknown> | null | undefined)?.then !== 'function') return undefined;
  return Promise.resolve(returned).then(ignore, () => requeueUnsettled(delivery));
}

function requeueUnsettled(
  delivery: Delivery<unknown> & { readonly settled: boolean },
): Promise<void> | undefined {
  if (delivery.settled) return undefined;
  return delivery.nack({ requeue: true }).catch(ignore);
}

function ignore(): void {}

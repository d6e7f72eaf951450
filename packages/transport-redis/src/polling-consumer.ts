import type { DeliveryHandler } from '@taskwire/core';
import { backoffDelay, runHandler } from '@taskwire/core/transport';
import type { LeasedItem, RedisDelivery } from './delivery.js';

/** A take: the items, and whether they were all the queue had ready. */
export interface TakeResult {
  readonly items: LeasedItem[];
  /** When drained: ms until the next timed event (-1 = none). */
  readonly wait: number;
  /**
   * The take got fewer items than asked for, so nothing else was ready: wait for a wake-up rather
   * than take again at once (a put after this take leaves a wake-up token, so none is missed).
   */
  readonly drained: boolean;
}

/** What a consumer needs from its queue handle. */
export interface ConsumerSource<T> {
  take(max: number): Promise<TakeResult>;
  /** A delivery for `taken`, or undefined when it was undecodable (and dead-lettered). */
  toDelivery(taken: LeasedItem, onSettle: () => void): RedisDelivery<T> | undefined;
  /** Return items taken after the consumer was cancelled, uncounted. */
  giveBack(items: LeasedItem[]): Promise<void>;
  /**
   * Block until woken, the timed event `wait` is due, or a bounded maximum passes, then take up to
   * `max` items in the same round trip. Undefined when that take did not happen or its reply was
   * lost (the loop then takes as usual).
   */
  waitAndTake(wait: number, max: number, signal: AbortSignal): Promise<TakeResult | undefined>;
}

/** After a failed take (Redis down, reconnecting): 50 ms, doubling to 2 s, jittered. */
const TAKE_RETRY_BACKOFF = { baseMs: 50, maxMs: 2000 };

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

/**
 * A push consumer: one loop that takes up to (prefetch − outstanding) items per round trip and,
 * once a take drained the queue, blocks on the queue's wake-up list with the next take sent right
 * behind the wait, so a woken consumer has its items without another round trip. The loop never ends on an error (it backs
 * off and retries, e.g. while ioredis reconnects) and every block is bounded, so a consumer never
 * goes silent while connected.
 */
export class PollingConsumer<T> {
  private outstanding = 0;
  private active = true;
  private readonly stop = new AbortController();
  private roomAvailable: (() => void) | undefined;
  private readonly loop: Promise<void>;

  constructor(
    private readonly source: ConsumerSource<T>,
    private readonly handler: DeliveryHandler<T>,
    private readonly prefetch: number,
  ) {
    this.loop = this.run();
  }

  /** Stop taking; deliveries already handed out stay valid. */
  async cancel(): Promise<void> {
    this.active = false;
    this.stop.abort();
    this.roomAvailable?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    /** A take that came back with the reply of a wait. */
    let next: TakeResult | undefined;
    while (this.active) {
      if (next === undefined && this.outstanding >= this.prefetch) {
        await new Promise<void>((resolve) => {
          this.roomAvailable = resolve;
        });
        this.roomAvailable = undefined;
        continue;
      }
      let batch: TakeResult;
      if (next) {
        batch = next;
        next = undefined;
      } else {
        try {
          batch = await this.source.take(this.prefetch - this.outstanding);
          failures = 0;
        } catch {
          await sleep(backoffDelay(++failures, TAKE_RETRY_BACKOFF), this.stop.signal);
          continue;
        }
      }
      if (!this.active) {
        await this.source.giveBack(batch.items).catch(() => undefined);
        break;
      }
      for (const taken of batch.items) {
        // Count before the handler runs: it may settle synchronously.
        this.outstanding++;
        const delivery = this.source.toDelivery(taken, () => this.settled());
        if (delivery) void runHandler(this.handler, delivery);
        else this.outstanding--;
      }
      const room = this.prefetch - this.outstanding;
      if (batch.drained && room > 0) {
        next = await this.source.waitAndTake(batch.wait, room, this.stop.signal);
        if (next && !this.active) await this.source.giveBack(next.items).catch(() => undefined);
      }
    }
  }

  private settled(): void {
    this.outstanding--;
    this.roomAvailable?.();
  }
}

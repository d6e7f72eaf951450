import { backoffDelay } from '../backoff.js';
import type { Delivery, DeliveryHandler } from '../types.js';
import { runHandler } from './delivery.js';

/** A take: the items, and whether they were all the backend had ready. */
export interface TakeResult<I> {
  readonly items: readonly I[];
  /** When drained: ms until the next timed event (-1 = none). */
  readonly wait: number;
  /**
   * Nothing else was ready: wait for a wake-up rather than take again at once (a backend that sets
   * this with items in hand must leave a wake-up for a put that lands after the take, so none is missed).
   */
  readonly drained: boolean;
}

/** What a {@link PollingConsumer} needs from its queue handle. `I` is the backend's taken item. */
export interface ConsumerSource<T, I> {
  /** Take up to `max` items (a round trip); may reject while the backend is unreachable. */
  take(max: number): Promise<TakeResult<I>>;
  /** A delivery for `taken`, or undefined when it was undecodable (and dead-lettered). */
  toDelivery(taken: I, onSettle: () => void): (Delivery<T> & { readonly settled: boolean }) | undefined;
  /** Return items taken after the consumer was cancelled, uncounted. */
  giveBack(items: readonly I[]): Promise<void>;
  /** Block until woken, the timed event `wait` is due, or a bounded maximum passes. */
  waitForWork(wait: number, signal: AbortSignal): Promise<void>;
  /**
   * Optional, used instead of {@link waitForWork} when given: wait the same way with a take of up to `max` items
   * riding behind the wait, run by the backend the moment the wait ends, so a woken consumer has its items
   * without another round trip. Resolves undefined when no take's reply came back (the loop then takes as
   * usual). After `signal` aborts it must still answer with what the take got (the loop gives it back), or
   * make sure the take did not run: items taken and never seen would sit in flight until their lease lapses.
   */
  waitAndTake?(wait: number, max: number, signal: AbortSignal): Promise<TakeResult<I> | undefined>;
}

/** After a failed take (the backend down, a client reconnecting): 50 ms, doubling to 2 s, jittered. */
const TAKE_RETRY_BACKOFF = { baseMs: 50, maxMs: 2000 };

/** `work`'s outcome, or undefined as soon as `signal` aborts (the listener is removed either way). */
async function unlessAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return undefined;
  let onAbort!: () => void;
  const aborted = new Promise<undefined>((resolve) => {
    onAbort = () => resolve(undefined);
  });
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await Promise.race([work, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

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
 * A push consumer for a backend that is polled: one loop that takes up to (prefetch − outstanding) items per round
 * trip and, once a take drained the backend, waits for work (with the next take riding behind the wait where the
 * backend offers {@link ConsumerSource.waitAndTake}). The loop never ends on an error (it backs off and retries, e.g. while a client reconnects) and every wait is bounded, so a consumer never goes silent while connected. The Redis
 * transport and {@link PollingQueue} run their consumers on it.
 */
export class PollingConsumer<T, I> {
  private outstanding = 0;
  private active = true;
  private readonly stop = new AbortController();
  private roomAvailable: (() => void) | undefined;
  private readonly loop: Promise<void>;

  constructor(
    private readonly source: ConsumerSource<T, I>,
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
    /** A take that came back with the end of a wait (see waitAndTake). */
    let next: TakeResult<I> | undefined;
    while (this.active) {
      let batch = next;
      next = undefined;
      if (batch === undefined && this.outstanding >= this.prefetch) {
        await new Promise<void>((resolve) => {
          this.roomAvailable = resolve;
        });
        this.roomAvailable = undefined;
        continue;
      }
      if (batch === undefined)
        try {
          const taking = this.source.take(this.prefetch - this.outstanding);
          // A client may hold a take sent just before a drop until a reconnect that never comes (ioredis, once the
          // connection failed for good): a cancel must not wait for it. Its items, should they arrive, go straight back.
          batch = await unlessAborted(taking, this.stop.signal);
          if (!batch) {
            taking.then((late) => this.source.giveBack(late.items)).catch(() => undefined);
            break;
          }
          failures = 0;
        } catch {
          await sleep(backoffDelay(++failures, TAKE_RETRY_BACKOFF), this.stop.signal);
          continue;
        }
      if (!this.active) {
        await this.source.giveBack(batch.items).catch(() => undefined);
        break;
      }
      for (const taken of batch.items) {
        // Count before the handler runs: it may settle synchronously.
        this.outstanding++;
        const delivery = this.source.toDelivery(taken, this.onSettle);
        if (delivery) void runHandler(this.handler, delivery);
        else this.outstanding--;
      }
      const room = this.prefetch - this.outstanding;
      if (!batch.drained || room <= 0) continue;
      if (this.source.waitAndTake) {
        // Outstanding deliveries only settle meanwhile, so the room asked for is still there when the items come.
        next = await this.source.waitAndTake(batch.wait, room, this.stop.signal).catch(() => undefined);
        if (next && !this.active) await this.source.giveBack(next.items).catch(() => undefined);
      } else {
        await this.source.waitForWork(batch.wait, this.stop.signal);
      }
    }
  }

  /** Called by each delivery once settled: one function for all of them, not a closure per delivery. */
  private readonly onSettle = (): void => {
    this.outstanding--;
    this.roomAvailable?.();
  };
}

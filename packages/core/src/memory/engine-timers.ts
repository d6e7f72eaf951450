import { MAX_TIMER_MS } from '../timer.js';
import { Heap } from './heap.js';

/**
 * The delay of the engine's own timers: capped so a far deadline never overflows `setTimeout`.
 * Their callbacks release only what is due and re-arm for the rest, so an early wake-up is harmless.
 */
function timerDelay(ms: number): number {
  return Math.min(MAX_TIMER_MS, Math.max(0, ms));
}

interface Delayed<I> {
  readonly dueAt: number;
  readonly item: I;
}

/** A queue's delayed items, released in due order by one timer (never one per item). */
export class DelayedItems<I extends { readonly seq: number }> {
  private readonly heap = new Heap<Delayed<I>>(
    (a, b) => a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.item.seq < b.item.seq),
  );
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;

  /**
   * @param release Makes one due item ready.
   * @param afterRelease Runs after every release (hand the released items out).
   */
  constructor(
    private readonly release: (item: I) => void,
    private readonly afterRelease: () => void,
  ) {}

  get length(): number {
    return this.heap.length;
  }

  /** Hold `item` until `dueAt` (epoch ms). */
  add(item: I, dueAt: number): void {
    this.heap.push({ dueAt, item });
    if (dueAt < this.timerAt) {
      this.stopTimer();
      this.timerAt = dueAt;
      this.timer = setTimeout(this.releaseDue, timerDelay(dueAt - Date.now()));
    }
  }

  /** The `count` items due soonest, in due order, left in place. */
  peek(count: number): { readonly dueAt: number; readonly item: I }[] {
    return this.heap.smallest(count);
  }

  /** Remove up to `max` items in due order, only those `match` accepts (all when omitted). */
  take(max: number, match?: (item: I) => boolean): I[] {
    const taken: I[] = [];
    const passed: Delayed<I>[] = [];
    while (taken.length < max && this.heap.length > 0) {
      const delayed = this.heap.pop()!;
      if (!match || match(delayed.item)) taken.push(delayed.item);
      else passed.push(delayed);
    }
    // Back in the heap; the timer armed for the earliest one still fires in time (early at worst, which is harmless).
    for (const delayed of passed) this.heap.push(delayed);
    return taken;
  }

  /** Drop every delayed item. */
  clear(): void {
    this.heap.clear();
    this.stopTimer();
  }

  /** Stop the timer (the items stay). */
  stopTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private readonly releaseDue = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = Date.now();
    while (this.heap.length > 0 && this.heap.peek()!.dueAt <= now) this.release(this.heap.pop()!.item);
    const next = this.heap.peek();
    if (next) {
      this.timerAt = next.dueAt;
      this.timer = setTimeout(this.releaseDue, timerDelay(next.dueAt - now));
    }
    this.afterRelease();
  };
}

/**
 * The visibility deadlines of a queue's deliveries, enforced by one timer. A delivery settled before its deadline
 * sets `deadline` to 0 and is skipped when reached (lazy deletion: settling costs no heap operation).
 */
export class VisibilityDeadlines<D extends { deadline: number }> {
  private readonly heap = new Heap<D>((a, b) => a.deadline < b.deadline);
  private timer: NodeJS.Timeout | undefined;

  /**
   * @param expire Called for each delivery whose deadline passed while it was still unsettled.
   * @param afterExpiry Runs after every expiry round (hand requeued items out).
   */
  constructor(
    private readonly expire: (delivery: D) => void,
    private readonly afterExpiry: () => void,
  ) {}

  /** Watch a delivery with a non-zero deadline. */
  track(delivery: D): void {
    this.heap.push(delivery);
    if (!this.timer) this.arm();
  }

  /** Stop the timer. */
  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    while (this.heap.length > 0 && this.heap.peek()!.deadline === 0) this.heap.pop();
    const next = this.heap.peek();
    if (!next) return;
    this.timer = setTimeout(this.expireDue, timerDelay(next.deadline - Date.now()));
    // The timer only redelivers; it must not keep an otherwise finished process alive.
    this.timer.unref();
  }

  private readonly expireDue = (): void => {
    this.timer = undefined;
    const now = Date.now();
    while (this.heap.length > 0) {
      const delivery = this.heap.peek()!;
      if (delivery.deadline !== 0 && delivery.deadline > now) break;
      this.heap.pop();
      if (delivery.deadline !== 0) this.expire(delivery);
    }
    this.arm();
    this.afterExpiry();
  };
}

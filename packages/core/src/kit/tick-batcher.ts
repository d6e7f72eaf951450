/** Options of a {@link TickBatcher}. */
export interface TickBatcherOptions<T> {
  /** Flush at once when this many items wait, instead of at the end of the turn. @default Infinity */
  maxItems?: number;
  /** Flush at once when the waiting items reach this many bytes (measured by `bytes`). @default Infinity */
  maxBytes?: number;
  /** The size of one item, for `maxBytes`. */
  bytes?: (item: T) => number;
  /**
   * Arrange for {@link TickBatcher.flush} to be called later in this turn. Default: `setImmediate`. A batcher
   * whose flush must ride along with another one's (frames for a socket's single write per turn) passes that
   * one's scheduler and calls `flush()` from it.
   */
  schedule?: (flush: () => void) => void;
}

/**
 * Collects the items added during one turn of the event loop and hands them to `onFlush` together: a burst of
 * puts, acks or deliveries costs one round trip, one frame or one wake-up instead of one each. A batch that
 * reaches `maxItems` or `maxBytes` is flushed at once, so the work overlaps with the rest of the turn and a batch
 * stays bounded.
 *
 * Adding allocates nothing per item beyond the array slot; a caller that needs to know when its item was sent
 * shares one promise per batch (see {@link TickBatcher.isEmpty}), never one per item.
 */
export class TickBatcher<T> {
  private items: T[] = [];
  private bytes = 0;
  private scheduled = false;
  private readonly maxItems: number;
  private readonly maxBytes: number;
  private readonly measure: ((item: T) => number) | undefined;
  private readonly schedule: (flush: () => void) => void;

  /** @param onFlush Receives each batch (never empty), in order; it owns the array. */
  constructor(
    private readonly onFlush: (items: T[]) => void,
    options: TickBatcherOptions<T> = {},
  ) {
    this.maxItems = options.maxItems ?? Number.POSITIVE_INFINITY;
    this.maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
    this.measure = options.maxBytes === undefined ? undefined : options.bytes;
    this.schedule = options.schedule ?? defaultSchedule;
  }

  /** Items waiting for the next flush. */
  get length(): number {
    return this.items.length;
  }

  /** True when nothing waits: the next {@link add} starts a new batch. */
  get isEmpty(): boolean {
    return this.items.length === 0;
  }

  /** Add `item` to this turn's batch (flushing at once when the batch is full). */
  add(item: T): void {
    this.items.push(item);
    if (this.measure) this.bytes += this.measure(item);
    if (this.items.length >= this.maxItems || this.bytes >= this.maxBytes) {
      this.flush();
      return;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(this.flush);
    }
  }

  /** Hand the waiting items to `onFlush` now (nothing happens when none wait). */
  readonly flush = (): void => {
    this.scheduled = false;
    if (this.items.length === 0) return;
    const items = this.items;
    this.items = [];
    this.bytes = 0;
    this.onFlush(items);
  };

  /** Remove and return the waiting items without flushing them (a cancelled consumer giving them back). */
  take(): T[] {
    const items = this.items;
    this.items = [];
    this.bytes = 0;
    return items;
  }
}

function defaultSchedule(flush: () => void): void {
  setImmediate(flush);
}

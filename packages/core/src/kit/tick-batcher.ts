/** Options of a {@link TickBatcher}. */
export interface TickBatcherOptions<T> {
  /** Flush at once when this many items wait, instead of at the end of the turn. @default Infinity */
  maxItems?: number;
  /** Flush at once when the waiting items reach this many bytes (measured by `bytes`). @default Infinity */
  maxBytes?: number;
  /** The size of one item, for `maxBytes`. */
  bytes?: (item: T) => number;
  /**
   * Called at the start of every flush, before the waiting items are taken: a batch that rides along with this
   * one (deliveries for a socket whose frames leave in one write) adds what it holds.
   */
  beforeFlush?: () => void;
  /**
   * Arrange for `flush` to be called later in this turn. Default: `setImmediate`. A batcher whose batches must
   * leave with another one's passes that one's {@link TickBatcher.wake}, and is flushed from its `beforeFlush`.
   */
  schedule?: (flush: () => void) => void;
}

interface Outcome {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Collects the items added during one turn of the event loop and hands them to `onFlush` together: a burst of
 * puts, acks, results or frames costs one round trip or one write instead of one each. A batch that reaches
 * `maxItems` or `maxBytes` is flushed at once, so it stays bounded and its work overlaps with the rest of the turn.
 *
 * Adding allocates nothing per item beyond the array slot. A caller that must know when its item was sent asks
 * {@link nextFlush} for the batch's one shared promise, which settles as the promise `onFlush` returns does.
 */
export class TickBatcher<T> {
  private items: T[] = [];
  private bytes = 0;
  private scheduled = false;
  private outcome: Outcome | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly maxItems: number;
  private readonly maxBytes: number;
  private readonly measure: ((item: T) => number) | undefined;
  private readonly beforeFlush: (() => void) | undefined;
  private readonly schedule: (flush: () => void) => void;

  /**
   * @param onFlush Receives each batch (never empty), in order, and owns the array. May return a promise: the
   *   batch's {@link nextFlush} promise settles with it and {@link drain} waits for it.
   */
  constructor(
    private readonly onFlush: (items: T[]) => unknown,
    options: TickBatcherOptions<T> = {},
  ) {
    this.maxItems = options.maxItems ?? Number.POSITIVE_INFINITY;
    this.maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
    this.measure = options.maxBytes === undefined ? undefined : options.bytes;
    this.beforeFlush = options.beforeFlush;
    this.schedule = options.schedule ?? defaultSchedule;
  }

  /** Items waiting for the next flush. */
  get length(): number {
    return this.items.length;
  }

  /** True when nothing waits. */
  get isEmpty(): boolean {
    return this.items.length === 0;
  }

  /** Add `item` to this turn's batch (flushing at once when the batch is full). */
  add(item: T): void {
    this.items.push(item);
    if (this.measure) this.bytes += this.measure(item);
    if (this.items.length >= this.maxItems || this.bytes >= this.maxBytes) this.flush();
    else this.wake();
  }

  /**
   * The promise of the batch the next {@link add} joins: it resolves once that batch's `onFlush` (and the promise
   * it returned) succeeded, and rejects with its error. One promise per batch, shared by its items; ask before
   * adding.
   */
  nextFlush(): Promise<void> {
    if (!this.outcome) this.outcome = outcome();
    return this.outcome.promise;
  }

  /** Make sure a flush runs later in this turn, even with nothing waiting (for batches riding along). */
  wake(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.schedule(this.flush);
  }

  /** Flush now: `beforeFlush`, then the waiting items to `onFlush` (nothing happens when none wait). */
  readonly flush = (): void => {
    // Cleared only after beforeFlush, so what it adds rides along instead of scheduling another turn.
    this.beforeFlush?.();
    this.scheduled = false;
    if (this.items.length === 0) return;
    const items = this.items;
    const done = this.outcome;
    this.items = [];
    this.bytes = 0;
    this.outcome = undefined;
    let result: unknown;
    try {
      result = this.onFlush(items);
    } catch (error) {
      if (!done) throw error;
      done.reject(error);
      return;
    }
    if (!(result instanceof Promise)) {
      done?.resolve();
      return;
    }
    this.inFlight.add(result);
    result.then(
      () => {
        this.inFlight.delete(result);
        done?.resolve();
      },
      (error: unknown) => {
        this.inFlight.delete(result);
        done?.reject(error);
      },
    );
  };

  /** Remove and return the waiting items without flushing them (a cancelled consumer giving them back). */
  take(): T[] {
    const items = this.items;
    this.items = [];
    this.bytes = 0;
    return items;
  }

  /**
   * Drop the waiting items (their destination is gone). Their {@link nextFlush} promise rejects with `reason`, or
   * resolves when there is none (an unsent ack whose delivery the server already gave back needs no error).
   */
  discard(reason?: unknown): void {
    this.take();
    // A flush scheduled on a destination that is gone may never run: the next add schedules afresh.
    this.scheduled = false;
    const done = this.outcome;
    this.outcome = undefined;
    if (!done) return;
    if (reason === undefined) done.resolve();
    else done.reject(reason);
  }

  /** Flush what waits and resolve once every batch flushed so far has settled (failures included). */
  async drain(): Promise<void> {
    this.flush();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }
}

function defaultSchedule(flush: () => void): void {
  setImmediate(flush);
}

function outcome(): Outcome {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

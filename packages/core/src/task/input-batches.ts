const LATER: unique symbol = Symbol('later');

/** Resolves after the microtasks queued now (input already buffered) have run. */
const nextTurn = () => new Promise<typeof LATER>((resolve) => setImmediate(resolve, LATER));

/**
 * Reads a job's input in batches of what is available: a batch waits for its first item only,
 * then takes the items already buffered. A file or an array fills whole batches in one go; an
 * input that trickles in (a pipe, stdin) is submitted line by line as it arrives.
 */
export class InputBatches<T> {
  /** True once the input has ended. */
  exhausted = false;
  private pending: Promise<IteratorResult<T>> | undefined;

  constructor(private readonly iterator: AsyncIterator<T>) {}

  /** True while a read is outstanding (the input has not produced its next item yet). */
  get waiting(): boolean {
    return this.pending !== undefined;
  }

  /**
   * Up to `max` items. Waits for the first one, or until `interrupt` resolves (then returns none,
   * and the read stays outstanding for the next call); after it, takes only what is available.
   */
  async take(max: number, interrupt?: Promise<void>): Promise<T[]> {
    const batch: T[] = [];
    let turn: Promise<typeof LATER> | undefined;
    while (batch.length < max && !this.exhausted) {
      const next = this.pending ?? this.iterator.next();
      this.pending = undefined;
      let result: IteratorResult<T> | typeof LATER;
      if (batch.length > 0) {
        turn ??= nextTurn();
        result = await Promise.race([next, turn]);
      } else if (interrupt) result = await Promise.race([next, interrupt.then((): typeof LATER => LATER)]);
      else result = await next;
      if (result === LATER) {
        this.pending = next;
        break;
      }
      if (result.done) {
        this.exhausted = true;
        break;
      }
      batch.push(result.value);
    }
    return batch;
  }
}

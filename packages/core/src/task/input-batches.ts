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
  private readonly iterator: AsyncIterator<T> | undefined;
  // A sync input (an array, a generator) is read without a promise per item.
  private readonly syncIterator: Iterator<T> | undefined;

  constructor(input: Iterable<T> | AsyncIterable<T>) {
    if (Symbol.asyncIterator in input) this.iterator = input[Symbol.asyncIterator]();
    else this.syncIterator = input[Symbol.iterator]();
  }

  /** Stop reading: lets the input release what it holds (a file, a stream). */
  async close(): Promise<void> {
    if (this.syncIterator) this.syncIterator.return?.();
    else await this.iterator!.return?.();
  }

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
    if (this.syncIterator) {
      while (batch.length < max) {
        const next = this.syncIterator.next();
        if (next.done) {
          this.exhausted = true;
          break;
        }
        batch.push(next.value);
      }
      return batch;
    }
    const iterator = this.iterator!;
    let turn: Promise<typeof LATER> | undefined;
    while (batch.length < max && !this.exhausted) {
      const next = this.pending ?? iterator.next();
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

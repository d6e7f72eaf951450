import type { TaskResult } from './envelope.js';
import { InputBatches } from './input-batches.js';

/** Options of a {@link MapStream}. */
export interface MapStreamOptions {
  /** Most tasks outstanding at once (checked on the first read). */
  window: number;
  /** When aborted, read no more input. */
  signal?: AbortSignal;
}

/** Puts a batch of payloads as tasks; `onResult` is called once per task with its result. */
export type SubmitBatch<P> = (payloads: P[], onResult: (result: TaskResult) => void) => Promise<void>;

const DONE: IteratorResult<never, undefined> = Object.freeze({ value: undefined, done: true });

/**
 * What `Master.map()` returns: an async generator over results in completion order, keeping at most `window` tasks
 * outstanding. Written by hand rather than as an `async function*`: a result already arrived is handed out with one
 * resolved promise, where a generator's `yield` costs several promises and microtasks per result (measurable when
 * a job is a million tiny tasks). Input is read, and the window refilled, only once the arrived results are drained.
 */
export class MapStream<R, P> implements AsyncGenerator<TaskResult<R, P>, undefined> {
  private readonly input: Iterable<P> | AsyncIterable<P>;
  private readonly options: MapStreamOptions;
  private readonly submit: SubmitBatch<P>;
  private reader: InputBatches<P> | undefined;
  private refillAt = 0;
  private aborted: Promise<void> | undefined;
  /** Results arrived and not yet handed out: `completed[head…]`. */
  private completed: TaskResult[] = [];
  private head = 0;
  private wake: (() => void) | undefined;
  private inFlight = 0;
  private exhausted = false;
  private finished = false;
  /** The read in progress on the slow path: later calls wait for it, as a generator queues them. */
  private busy: Promise<unknown> | undefined;

  constructor(input: Iterable<P> | AsyncIterable<P>, options: MapStreamOptions, submit: SubmitBatch<P>) {
    this.input = input;
    this.options = options;
    this.submit = submit;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<TaskResult<R, P>, undefined>> {
    if (!this.busy) {
      if (this.head < this.completed.length) return Promise.resolve({ value: this.take(), done: false });
      if (this.finished) return Promise.resolve(DONE);
    }
    return this.exclusive(() => {
      if (this.head < this.completed.length) return Promise.resolve({ value: this.take(), done: false });
      return this.finished ? Promise.resolve(DONE) : this.advance();
    });
  }

  /** Stop: read no more input (the tasks already submitted are left to finish unwatched). */
  return(): Promise<IteratorResult<TaskResult<R, P>, undefined>> {
    return this.exclusive(() => this.finish().then(() => DONE));
  }

  throw(error: unknown): Promise<IteratorResult<TaskResult<R, P>, undefined>> {
    return this.exclusive(() =>
      this.finish().then(() => {
        throw error;
      }),
    );
  }

  private readonly onResult = (result: TaskResult): void => {
    this.completed.push(result);
    this.wake?.();
  };

  /** The next arrived result (one is there); a task counts against the window until its result is handed out. */
  private take(): TaskResult<R, P> {
    const result = this.completed[this.head++]!;
    if (this.head === this.completed.length) {
      this.completed = [];
      this.head = 0;
    }
    this.inFlight--;
    return result as TaskResult<R, P>;
  }

  /** Run `operation` after the one in progress, if any: calls made while a read waits are served in order. */
  private exclusive<T>(operation: () => Promise<T>): Promise<T> {
    const previous = this.busy;
    const run = previous ? previous.then(operation, operation) : operation();
    this.busy = run;
    const clear = () => {
      if (this.busy === run) this.busy = undefined;
    };
    run.then(clear, clear);
    return run;
  }

  /** No result waits: refill the window when a quarter of it is free, then wait for a result or the end. */
  private async advance(): Promise<IteratorResult<TaskResult<R, P>, undefined>> {
    try {
      if (!this.reader) this.open();
      const { signal } = this.options;
      const reader = this.reader!;
      const window = this.options.window;
      for (;;) {
        if (signal?.aborted) this.exhausted = true;
        // Refill the window in one batch: one round trip for many tasks.
        if (!this.exhausted && this.inFlight <= this.refillAt) {
          // What has arrived goes out now; with tasks out, a result (or an abort) also ends the wait for input.
          const result = this.inFlight > 0 ? this.resultArrived() : undefined;
          const aborted = this.aborted;
          const interrupt = aborted && result ? Promise.race([aborted, result]) : (aborted ?? result);
          const batch = await reader.take(window - this.inFlight, interrupt);
          this.exhausted = reader.exhausted || !!signal?.aborted;
          if (batch.length > 0) {
            this.inFlight += batch.length;
            await this.submit(batch, this.onResult);
          }
        }
        if (this.head < this.completed.length) return { value: this.take(), done: false };
        if (this.exhausted && this.inFlight === 0) {
          await this.finish();
          return DONE;
        }
        if (!this.exhausted && this.inFlight <= this.refillAt) continue; // room again: refill before waiting
        await this.resultArrived();
        this.wake = undefined;
      }
    } catch (error) {
      await this.finish();
      throw error;
    }
  }

  private open(): void {
    const { window, signal } = this.options;
    if (!Number.isInteger(window) || window < 1) throw new TypeError('window must be an integer ≥ 1');
    // Refill only once a quarter of the window is free: a few large batches instead of a trickle
    // of tiny ones (each batch is a round trip and a burst of frames on every transport).
    this.refillAt = window - Math.max(1, Math.floor(window / 4));
    this.aborted = signal
      ? new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
      : undefined;
    this.reader = new InputBatches(this.input);
  }

  private resultArrived(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wake = resolve;
      if (this.head < this.completed.length) resolve();
    });
  }

  /** Done for good: close the input (without waiting on a read that is outstanding, e.g. stdin waiting for a line). */
  private async finish(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.completed = [];
    this.head = 0;
    const reader = this.reader;
    if (!reader) return;
    if (reader.waiting) void reader.close();
    else await reader.close();
  }
}

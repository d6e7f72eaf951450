import { defaultCodec } from '../codec.js';
import { FrameTooLargeError, ResultEncodingError } from '../errors.js';
import { TickBatcher } from '../kit/tick-batcher.js';
import type { Connection, DistributedQueue } from '../types.js';
import type { TaskResult } from './envelope.js';
import { type ResultTuple, resultToWire } from './task-wire.js';

/** Options of {@link ResultSender}. */
export interface ResultSenderOptions {
  /**
   * A result queue handle unused this long is closed, so a long-lived worker answering many masters holds no
   * handle (nor any backend state it keeps alive) for masters that are gone. @default 10000
   */
  idleCloseMs?: number;
}

/** Results sent in one batch at most before it leaves without waiting for the end of the turn. */
const EARLY_FLUSH_ITEMS = 256;

/** A result handed to {@link ResultSender.post}, told once how its sending ended. */
export interface SentReceiver {
  /** The result to send. */
  readonly result: TaskResult;
  /**
   * Called once: with the result its master will receive (`result` itself, or the failed result that replaced it
   * when it could not be encoded), or with `undefined` and the backend's error when it was refused.
   */
  sent(sent: TaskResult | undefined, error?: unknown): void;
}

interface OpenQueue {
  queue: Promise<DistributedQueue<ResultTuple>>;
  lastUsed: number;
  sending: number;
}

/**
 * Sends results to masters' result queues, coalescing the results produced in one tick into one `putMany` per
 * queue: a busy worker pays one round trip per batch, not per task.
 *
 * One bad result never holds back the others: a batch the backend refuses is retried item by item, and a result
 * that cannot be encoded (a Symbol, a cyclic object, too large) is replaced by a failed result carrying a
 * {@link ResultEncodingError}, so its master still learns how the task ended.
 */
export class ResultSender {
  private readonly open = new Map<string, OpenQueue>();
  private readonly batches = new Map<string, TickBatcher<SentReceiver>>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly idleCloseMs: number;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly connection: Connection,
    options: ResultSenderOptions = {},
  ) {
    this.idleCloseMs = options.idleCloseMs ?? 10_000;
  }

  /** Result queue handles open now (for tests and diagnostics). */
  get openQueues(): number {
    return this.open.size;
  }

  /**
   * Resolves with the result the master will receive once the backend accepted it: `result` itself, or the
   * failed result that replaced it when it could not be encoded. Rejects when the backend refused it.
   */
  send(replyTo: string, result: TaskResult): Promise<TaskResult> {
    return new Promise<TaskResult>((resolve, reject) => {
      this.post(replyTo, { result, sent: (sent, error) => (sent ? resolve(sent) : reject(error)) });
    });
  }

  /**
   * {@link send} without a promise nor a closure per result (the worker's hot path): `receiver.sent` is called
   * once.
   */
  post(replyTo: string, receiver: SentReceiver): void {
    let batch = this.batches.get(replyTo);
    if (!batch) {
      // A full batch leaves at once: its results travel while the rest of this turn's tasks still run, so the
      // worker and its backend overlap instead of taking turns.
      batch = new TickBatcher((items) => this.flushBatch(replyTo, items), { maxItems: EARLY_FLUSH_ITEMS });
      this.batches.set(replyTo, batch);
    }
    batch.add(receiver);
  }

  private flushBatch(replyTo: string, items: SentReceiver[]): void {
    const flushed = this.deliver(replyTo, items);
    this.inFlight.add(flushed);
    void flushed.finally(() => this.inFlight.delete(flushed));
  }

  /**
   * Close the handle on a departed master's result queue: it must not linger (on Redis a handle
   * keeps a heartbeat that would write to the deleted queue) nor accumulate over many masters.
   */
  forget(replyTo: string): void {
    if (this.batches.get(replyTo)?.isEmpty) this.batches.delete(replyTo);
    const entry = this.open.get(replyTo);
    if (!entry) return;
    this.open.delete(replyTo);
    void entry.queue.then((handle) => handle.close()).catch(() => undefined);
  }

  /** Wait for every result handed to `send` so far. */
  async flush(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** Flush, then close every result queue handle. */
  async close(): Promise<void> {
    await this.flush();
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    const handles = [...this.open.values()];
    this.open.clear();
    await Promise.allSettled(handles.map(async (entry) => (await entry.queue).close()));
  }

  private async deliver(replyTo: string, items: SentReceiver[]): Promise<void> {
    const entry = this.use(replyTo);
    entry.sending++;
    try {
      const queue = await entry.queue;
      if (items.length > 1) {
        try {
          await queue.putMany(items.map((item) => resultToWire(item.result)));
          for (const item of items) item.sent(item.result);
          return;
        } catch {
          // Retried one by one below: the batch fails as a whole, its items need not.
        }
      }
      for (const item of items) await this.deliverOne(queue, item);
    } catch (error) {
      for (const item of items) item.sent(undefined, error);
    } finally {
      entry.sending--;
      entry.lastUsed = Date.now();
    }
  }

  private async deliverOne(queue: DistributedQueue<ResultTuple>, item: SentReceiver): Promise<void> {
    try {
      await queue.put(resultToWire(item.result));
      item.sent(item.result);
      return;
    } catch (refusal) {
      const problem = encodingProblem(item.result, refusal);
      if (!problem) return item.sent(undefined, refusal);
      // Name, message and code only: the replacement must fit where the original did not.
      const { taskId, worker, attempt, startedAt, finishedAt } = item.result;
      const error = { name: problem.name, message: problem.message, code: problem.code };
      const replacement: TaskResult = { taskId, ok: false, error, worker, attempt, startedAt, finishedAt };
      try {
        await queue.put(resultToWire(replacement));
        item.sent(replacement);
      } catch (secondError) {
        item.sent(undefined, secondError);
      }
    }
  }

  private use(replyTo: string): OpenQueue {
    let entry = this.open.get(replyTo);
    if (!entry) {
      const queue = this.connection.queue<ResultTuple>(replyTo);
      entry = { queue, lastUsed: Date.now(), sending: 0 };
      this.open.set(replyTo, entry);
      queue.catch(() => this.open.delete(replyTo));
      this.sweeper ??= setInterval(() => this.closeIdle(), Math.max(1, this.idleCloseMs / 2)).unref();
    }
    return entry;
  }

  private closeIdle(): void {
    const now = Date.now();
    for (const [replyTo, entry] of this.open) {
      const batch = this.batches.get(replyTo);
      if (entry.sending > 0 || (batch && !batch.isEmpty) || now - entry.lastUsed < this.idleCloseMs) continue;
      this.batches.delete(replyTo);
      this.open.delete(replyTo);
      void entry.queue.then((queue) => queue.close()).catch(() => undefined);
    }
    if (this.open.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }
}

/**
 * Why `result` cannot travel, or undefined when the refusal was the backend's. Encoding it here, only after a put
 * failed, keeps the fast path free of a second encode.
 */
function encodingProblem(result: TaskResult, error: unknown): ResultEncodingError | undefined {
  if (FrameTooLargeError.isInstance(error)) {
    return new ResultEncodingError(`the task's result is too large to send: ${error.message}`, {
      cause: error,
    });
  }
  try {
    defaultCodec.encode(result);
    return undefined;
  } catch (encodeError) {
    const reason = encodeError instanceof Error ? encodeError.message : String(encodeError);
    return new ResultEncodingError(`the task's result cannot be encoded: ${reason}`, { cause: encodeError });
  }
}

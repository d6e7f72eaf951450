import type { Connection, DistributedQueue } from '../types.js';
import type { TaskResult } from './envelope.js';

interface Batch {
  results: TaskResult[];
  done: Promise<void>;
}

/**
 * Sends results to masters' result queues, coalescing the results produced in one tick into one
 * `putMany` per queue: a busy worker pays one round trip per batch, not per task.
 */
export class ResultSender {
  private readonly queues = new Map<string, Promise<DistributedQueue<TaskResult>>>();
  private readonly batches = new Map<string, Batch>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly connection: Connection) {}

  /** Resolves once the backend accepted `result`. */
  send(replyTo: string, result: TaskResult): Promise<void> {
    const open = this.batches.get(replyTo);
    if (open) {
      open.results.push(result);
      return open.done;
    }
    const batch: Batch = { results: [result], done: Promise.resolve() };
    batch.done = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      this.batches.delete(replyTo);
      return this.put(replyTo, batch.results);
    });
    this.batches.set(replyTo, batch);
    const tracked = batch.done.catch(() => undefined);
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
    return batch.done;
  }

  /**
   * Close the handle on a departed master's result queue: it must not linger (on Redis a handle
   * keeps a heartbeat that would write to the deleted queue) nor accumulate over many masters.
   */
  forget(replyTo: string): void {
    const queue = this.queues.get(replyTo);
    if (!queue) return;
    this.queues.delete(replyTo);
    void queue.then((handle) => handle.close()).catch(() => undefined);
  }

  /** Wait for every result handed to `send` so far. */
  async flush(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  private async put(replyTo: string, results: TaskResult[]): Promise<void> {
    let queue = this.queues.get(replyTo);
    if (!queue) {
      queue = this.connection.queue<TaskResult>(replyTo);
      this.queues.set(replyTo, queue);
      queue.catch(() => this.queues.delete(replyTo));
    }
    const target = await queue;
    if (results.length === 1) await target.put(results[0]!);
    else await target.putMany(results);
  }
}

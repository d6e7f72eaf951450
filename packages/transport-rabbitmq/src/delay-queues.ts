import { DELAY_QUEUE_IDLE_MS, delayBucket, delayQueueArguments, delayQueueName } from './arguments.js';
import type { QueueIndexes } from './queue-index.js';
import type { ReconnectingConnection } from './reconnecting-connection.js';

/**
 * The TTL queues that hold one queue's delayed items, one per delay bucket, declared on first use and
 * redeclared well before `x-expires` could delete one that still holds items. Each (re)declaration is first
 * recorded in the queue's index, so another process inspecting the queue finds the delay queue.
 */
export class DelayQueues {
  private readonly declared = new Map<number, { name: string; declaredAt: number }>();

  constructor(
    private readonly amqp: ReconnectingConnection,
    private readonly indexes: QueueIndexes,
    private readonly queue: string,
    private readonly durable: boolean,
    /** Where due items go: the queue itself, or its due queue (see `fallsDueViaMover`). */
    private readonly target: string = queue,
  ) {}

  /** Names of the delay queues used so far. */
  names(): string[] {
    return [...this.declared.values()].map((delay) => delay.name);
  }

  /** Declare (or refresh) the delay queue for `requestedMs`; returns its name. */
  async nameFor(requestedMs: number): Promise<string> {
    const delayMs = delayBucket(requestedMs);
    const known = this.declared.get(delayMs);
    if (known && Date.now() - known.declaredAt < DELAY_QUEUE_IDLE_MS / 2) return known.name;
    const name = delayQueueName(this.queue, delayMs);
    await this.indexes.recordDelay(this.queue, delayMs);
    await this.amqp.withChannel((channel) =>
      channel.assertQueue(name, {
        durable: this.durable,
        arguments: delayQueueArguments(this.queue, delayMs, this.target),
      }),
    );
    this.declared.set(delayMs, { name, declaredAt: Date.now() });
    return name;
  }
}

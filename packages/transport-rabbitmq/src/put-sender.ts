import { ConnectionClosedError, type PutOptions, QueueFullError, QueueNotFoundError } from '@taskwire/core';
import type { Message, Options } from 'amqplib';
import { ATTEMPT_HEADER } from './arguments.js';
import type { DelayQueues } from './delay-queues.js';
import type { QueueContext } from './queue-context.js';

// A put refused by a full queue (reject-publish) retries with this backoff until its timeout.
const FULL_RETRY_FIRST_MS = 10;
const FULL_RETRY_MAX_MS = 200;

// Closing re-checks the connection this often while waiting for pending puts, for at most a minute.
const CLOSE_WAIT_STEP_MS = 100;
const MAX_CLOSE_WAIT_STEPS = 600;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What a {@link PutSender} needs to know of its queue. */
export interface PutTarget {
  readonly name: string;
  /** True once closing: a put waiting for room gives up. */
  readonly closing: boolean;
  /** Its maxsize when known (for the QueueFullError message); 0 = unknown or unbounded. */
  readonly maxsize: number;
}

/**
 * The puts of one queue: each is published on the connection's confirm channel and resolves with the broker's
 * confirm; a put the broker refuses because the queue is full (reject-publish) retries with backoff until its
 * `timeoutMs`. Counts the puts still waiting, so closing can wait for them.
 */
export class PutSender {
  private pending = 0;
  private allSettled: (() => void) | undefined;

  /**
   * `dueQueue`: the due queue of a queue whose items fall due through a mover, where a copy the queue refuses waits
   * until it takes it (see {@link publishCopy}); undefined otherwise.
   */
  constructor(
    private readonly context: QueueContext,
    private readonly target: PutTarget,
    private readonly delayQueues: DelayQueues,
    private readonly dueQueue?: string,
  ) {}

  /** Publish properties of a new item. */
  properties(priority: number): Options.Publish {
    const properties: Options.Publish = {
      persistent: this.context.durable,
      messageId: this.context.nextId(),
      // Returned when no queue takes it (deleted behind this handle), instead of confirmed and dropped.
      mandatory: true,
    };
    if (priority > 0) properties.priority = priority;
    return properties;
  }

  /** Publish and wait for the confirm; on a full queue, wait for room until the put's timeout. */
  send(content: Buffer, properties: Options.Publish, options: PutOptions): Promise<void> {
    const delayMs = Math.round(options.delayMs ?? 0);
    // Only a put with a timeout needs its start time (read once per put, not on the hot path).
    const startedAt = options.timeoutMs === undefined ? 0 : Date.now();
    const publisher = this.context.publisher;
    this.pending++;
    const sent =
      delayMs > 0
        ? this.delayQueues.nameFor(delayMs).then((key) => publisher.publish('', key, content, properties))
        : publisher.publish('', this.target.name, content, properties);
    // One reaction per put on the confirmed path; the full-queue path is the slow one.
    return sent.then(
      (outcome) => {
        if (outcome === 'ack') return this.done();
        if (outcome === 'unroutable') {
          this.done();
          throw this.notFound(delayMs);
        }
        return this.waitForRoom(content, properties, options, startedAt).finally(() => this.done());
      },
      (error: unknown) => {
        this.done();
        throw error;
      },
    );
  }

  /**
   * Publish a copy of `message` recording `attempt` deliveries, to the queue or (with `delayMs`) its delay queue.
   * A copy the queue refuses (full, or a quorum queue not serving yet) goes to its due queue instead, which its
   * mover empties into the queue once it takes it: were it requeued natively, only the boolean `redelivered` would
   * record the delivery, and a second loss would go uncounted. Resolves false when the broker refused it anyway.
   */
  async publishCopy(message: Message, attempt: number, delayMs: number): Promise<boolean> {
    const properties: Options.Publish = {
      ...message.properties,
      headers: { ...message.properties.headers, [ATTEMPT_HEADER]: attempt },
      mandatory: true,
    };
    const { publisher } = this.context;
    const routingKey = delayMs > 0 ? await this.delayQueues.nameFor(delayMs) : this.target.name;
    const outcome = await publisher.publish('', routingKey, message.content, properties);
    if (outcome === 'nack' && this.dueQueue !== undefined) {
      return (await publisher.publish('', this.dueQueue, message.content, properties)) === 'ack';
    }
    return outcome === 'ack';
  }

  /**
   * Wait for pending puts while the broker can still confirm them (bounded); puts waiting for a
   * reconnect are rejected with ConnectionClosedError when the connection closes.
   */
  async settle(): Promise<void> {
    const settled = new Promise<void>((resolve) => {
      this.allSettled = resolve;
    });
    for (let i = 0; i < MAX_CLOSE_WAIT_STEPS && this.pending > 0 && this.context.amqp.connected; i++) {
      await Promise.race([settled, sleep(CLOSE_WAIT_STEP_MS)]);
    }
  }

  private done(): void {
    if (--this.pending === 0) this.allSettled?.();
  }

  private async waitForRoom(
    content: Buffer,
    properties: Options.Publish,
    options: PutOptions,
    startedAt: number,
  ): Promise<void> {
    // A nack from a queue with x-overflow reject-publish means it is full: retry with backoff.
    const { name } = this.target;
    const deadline = options.timeoutMs === undefined ? Infinity : startedAt + options.timeoutMs;
    const routingKey = options.delayMs ? await this.delayQueues.nameFor(Math.round(options.delayMs)) : name;
    for (let wait = FULL_RETRY_FIRST_MS; ; wait = Math.min(wait * 2, FULL_RETRY_MAX_MS)) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        const limit = this.target.maxsize ? ` (maxsize ${this.target.maxsize})` : '';
        throw new QueueFullError(`queue "${name}" is full${limit}`);
      }
      if (this.target.closing)
        throw new ConnectionClosedError(`queue "${name}" was closed while waiting for room`);
      await sleep(Math.min(wait, remaining));
      const outcome = await this.context.publisher.publish('', routingKey, content, properties);
      if (outcome === 'ack') return;
      if (outcome === 'unroutable') throw this.notFound(options.delayMs ?? 0);
    }
  }

  private notFound(delayMs: number): QueueNotFoundError {
    const where = delayMs > 0 ? `the delay queue of "${this.target.name}"` : `queue "${this.target.name}"`;
    return new QueueNotFoundError(
      `put refused: ${where} does not exist on the broker (deleted?); declare the queue again before putting`,
    );
  }
}

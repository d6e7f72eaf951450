import { QueueNotFoundError } from '../errors.js';
import { resolveMoveOptions } from '../kit/inspection.js';
import { checkQueueName, checkRedeclaration, resolveQueueOptions } from '../kit/queue-options.js';
import { undecodableTarget } from '../kit/undecodable.js';
import type { MoveOptions, QueueOptions, QueueStats } from '../types.js';
import type { PeekedEngineItem } from './engine-item.js';
import { EngineQueue, type EngineQueueHost } from './engine-queue.js';
import { EngineSession } from './engine-session.js';

/**
 * The in-process queue engine behind `memory://` and the TCP manager. It stores opaque values
 * (encoded payloads), so a server can hold what it received without decoding it.
 */

let engineCounter = 0;

/** A set of named queues in this process. */
export class MemoryEngine<V> implements EngineQueueHost<V> {
  private readonly queues = new Map<string, EngineQueue<V>>();
  private readonly channels = new Map<string, Set<(value: V) => void>>();
  /** @internal Prefix of every item id this engine generates. */
  readonly idPrefix =
    `${process.pid.toString(36)}${(engineCounter++).toString(36)}${Date.now().toString(36)}-`;
  private seq = 0;
  private tag = 0;

  /**
   * Declare a queue, or open it if it exists. Declaring an existing queue with other options is a
   * `ConfigError` naming the option; omitted options are taken from the existing queue.
   */
  declare(name: string, options?: QueueOptions): EngineQueue<V> {
    checkQueueName(name);
    const existing = this.queues.get(name);
    if (!existing) {
      const queue = new EngineQueue(this, name, resolveQueueOptions(options));
      this.queues.set(name, queue);
      return queue;
    }
    checkRedeclaration(name, existing.options, options);
    return existing;
  }

  /** The queue named `name`, declared with default options if it does not exist. */
  queue(name: string): EngineQueue<V> {
    return this.queues.get(name) ?? this.declare(name);
  }

  /** Open a session (one per client connection). */
  openSession(): EngineSession {
    return new EngineSession();
  }

  /** Deliver `value` to every current subscriber of `channel`. Returns how many received it. */
  publish(channel: string, value: V): number {
    const subscribers = this.channels.get(channel);
    if (!subscribers) return 0;
    for (const subscriber of subscribers) subscriber(value);
    return subscribers.size;
  }

  /** Subscribe to `channel`; returns the unsubscribe function. */
  subscribe(channel: string, subscriber: (value: V) => void): () => void {
    let subscribers = this.channels.get(channel);
    if (!subscribers) {
      subscribers = new Set();
      this.channels.set(channel, subscribers);
    }
    subscribers.add(subscriber);
    return () => {
      subscribers.delete(subscriber);
      if (subscribers.size === 0) this.channels.delete(channel);
    };
  }

  /** Drop a queue and everything in it. */
  deleteQueue(name: string): void {
    const queue = this.queues.get(name);
    if (!queue) return;
    queue.purge();
    queue.dispose();
    this.queues.delete(name);
  }

  /** Stop every timer. */
  dispose(): void {
    for (const queue of this.queues.values()) queue.dispose();
  }

  /** Names of the declared queues. */
  queueNames(): string[] {
    return [...this.queues.keys()];
  }

  /** The queue named `name`, never declaring it: `QueueNotFoundError` when there is none. */
  find(name: string): EngineQueue<V> {
    const queue = this.queues.get(name);
    if (!queue) throw new QueueNotFoundError(`queue "${name}" does not exist`);
    return queue;
  }

  /** Counts of queue `name` by state, and of its dead-letter queue (see `Connection.stats`). */
  stats(name: string): QueueStats {
    const queue = this.find(name);
    const deadName = undecodableTarget(name, queue.options.deadLetter);
    return {
      name,
      ready: queue.readyCount,
      delayed: queue.delayedCount,
      inFlight: queue.inFlight,
      consumers: queue.consumerCount,
      deadLetter: { name: deadName, size: this.queues.get(deadName)?.size ?? 0 },
    };
  }

  /** Up to `limit` items of queue `name`, left in place (see `Connection.peek`; `limit` is checked by the caller). */
  peek(name: string, limit: number): PeekedEngineItem<V>[] {
    return this.find(name).peek(limit);
  }

  /**
   * Move ready and delayed items of `from` to `to` as fresh ready items, no more than fit in `to`; returns how many
   * moved (see `Connection.moveItems`).
   */
  moveItems(from: string, to: string, options?: MoveOptions): number {
    const source = this.find(from);
    const target = this.find(to);
    const { limit, ids } = resolveMoveOptions(options);
    const max = Math.min(limit, target.room);
    if (max === 0) return 0;
    const items = source.takeItems(max, ids && ((item) => ids.has(item.id)));
    target.addMoved(items);
    return items.length;
  }

  /** Remove every ready and delayed item of queue `name`; returns how many. */
  purgeQueue(name: string): number {
    return this.find(name).purge();
  }

  /** @internal */
  nextSeq(): number {
    return ++this.seq;
  }

  /** @internal */
  nextTag(): number {
    return ++this.tag;
  }
}

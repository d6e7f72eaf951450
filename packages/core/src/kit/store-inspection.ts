import type { Codec } from '../codec.js';
import { QueueNotFoundError } from '../errors.js';
import type { MoveOptions, PeekedItem, PeekOptions, QueueStats } from '../types.js';
import { wrapBackendError } from './backend-error.js';
import { peekedBody, resolveMoveOptions, resolvePeekLimit } from './inspection.js';
import type { Awaitable } from './polling-store.js';
import type { ResolvedQueueOptions } from './queue-options.js';
import { undecodableTarget } from './undecodable.js';

/** One stored item that is not held, as an {@link InspectionStore} reads it. */
export interface InspectedItem {
  /** The id its deliveries carry. */
  readonly id: string;
  readonly payload: Uint8Array;
  /** Deliveries so far. */
  readonly attempts: number;
  /** When it becomes takeable (epoch ms): now or earlier for a ready item. */
  readonly readyAt: number;
  /** 0 on a queue whose order is not `priority`. */
  readonly priority: number;
}

/** What {@link InspectionStore.move} moves, and where it stops. */
export interface StoreMove {
  /** Move at most this many (Infinity: all). */
  readonly max: number;
  /** Only these ids, when given. */
  readonly ids: ReadonlySet<string> | undefined;
  /** The target's `maxsize` (0 = unbounded): move only what fits, counted in the same transaction. */
  readonly maxsize: number;
  /** The target is a `priority` queue: keep each item's priority (else 0). */
  readonly keepPriority: boolean;
}

/**
 * The backend's part of inspection, for a transport built on `PollingStore`: plain reads and writes over every
 * queue of the backend (not one handle's), given to a {@link StoreInspection}, which does the rest of the
 * contract (sorting, limits, `QueueNotFoundError`, the dead-letter queue's name, decoding). Each method may be
 * synchronous or return a promise; a raw client error reaches the caller as a `BackendError`.
 */
export interface InspectionStore {
  /** Names of the declared queues (any order). */
  queueNames(): Awaitable<readonly string[]>;
  /** The options queue `name` was declared with; undefined when it is not declared. */
  declared(name: string): Awaitable<ResolvedQueueOptions | undefined>;
  /** Items not held, by readiness at `now`, and held ones (undefined when the backend cannot tell). */
  counts(
    name: string,
    now: number,
  ): Awaitable<{ ready: number; delayed: number; inFlight: number | undefined }>;
  /**
   * Up to `limit` items not held, left in place: the ready ones (ready at `now`) in serving order, then the delayed
   * ones, soonest first. The same order {@link move} takes them in.
   */
  items(name: string, limit: number, now: number): Awaitable<readonly InspectedItem[]>;
  /**
   * Move items not held from `from` to the back of `to` as fresh, ready items (attempts 0, ids kept), in the order of
   * {@link items}, atomically; resolve with how many moved.
   */
  move(from: string, to: string, move: StoreMove): Awaitable<number>;
  /** Remove every item of queue `name` that is not held; resolve with how many. */
  purge(name: string): Awaitable<number>;
}

/**
 * The inspection methods of a `Connection` (`listQueues`, `stats`, `peek`, `moveItems`, `purgeQueue`) over an
 * {@link InspectionStore}: a connection of a `PollingStore` transport delegates its five methods here and declares
 * the capabilities `stats`, `peek` and `listQueues`. `consumers` is reported as unknown: polling takers are not
 * registered anywhere.
 */
export class StoreInspection {
  /** @param backend The backend's name, for error messages. */
  constructor(
    private readonly store: InspectionStore,
    private readonly codec: Codec,
    private readonly backend: string,
  ) {}

  async listQueues(): Promise<string[]> {
    return [...(await this.call('list queues', () => this.store.queueNames()))].sort();
  }

  async stats(name: string): Promise<QueueStats> {
    const options = await this.declared(name);
    const deadName = undecodableTarget(name, options.deadLetter);
    const now = Date.now();
    const counts = await this.call(`stats of "${name}"`, () => this.store.counts(name, now));
    const dead = (await this.call('declared', () => this.store.declared(deadName)))
      ? await this.call(`stats of "${deadName}"`, () => this.store.counts(deadName, now))
      : undefined;
    return {
      name,
      ...counts,
      consumers: undefined,
      deadLetter: { name: deadName, size: dead ? dead.ready + dead.delayed : 0 },
    };
  }

  async peek<T = unknown>(name: string, options: PeekOptions = {}): Promise<PeekedItem<T>[]> {
    const limit = resolvePeekLimit(options.limit);
    const { order } = await this.declared(name);
    const now = Date.now();
    const items = await this.call(`peek at "${name}"`, () => this.store.items(name, limit, now));
    return items.map((item) => ({
      id: item.id,
      body: peekedBody(this.codec, item.payload) as T | Uint8Array,
      attempts: item.attempts,
      ...(item.readyAt > now
        ? { state: 'delayed' as const, readyAt: item.readyAt }
        : { state: 'ready' as const }),
      ...(order === 'priority' ? { priority: item.priority } : {}),
    }));
  }

  async moveItems(from: string, to: string, options?: MoveOptions): Promise<number> {
    const { limit, ids } = resolveMoveOptions(options);
    await this.declared(from);
    const target = await this.declared(to);
    if (limit === 0) return 0;
    const move = { max: limit, ids, maxsize: target.maxsize, keepPriority: target.order === 'priority' };
    return this.call(`move from "${from}" to "${to}"`, () => this.store.move(from, to, move));
  }

  async purgeQueue(name: string): Promise<number> {
    await this.declared(name);
    return this.call(`purge "${name}"`, () => this.store.purge(name));
  }

  private async declared(name: string): Promise<ResolvedQueueOptions> {
    const options = await this.call(`read "${name}"`, () => this.store.declared(name));
    if (!options) throw new QueueNotFoundError(`queue "${name}" does not exist`);
    return options;
  }

  private async call<R>(what: string, work: () => Awaitable<R>): Promise<R> {
    try {
      return await work();
    } catch (error) {
      throw wrapBackendError(error, `${this.backend}: ${what}`);
    }
  }
}

import { randomUUID } from 'node:crypto';
import {
  type BroadcastHandler,
  type Codec,
  type Connection,
  ConnectionClosedError,
  type DistributedQueue,
  type MoveOptions,
  type PeekedItem,
  type PeekOptions,
  type QueueOptions,
  type QueueStats,
  type Subscription,
  type Transport,
  UnsupportedError,
} from '@taskwire/core';
import {
  ConnectionEvents,
  checkQueueName,
  checkRedeclaration,
  PollingQueue,
  type ResolvedQueueOptions,
  resolveQueueOptions,
  StoreInspection,
  sharedWakeSignal,
  type WakeSignal,
} from '@taskwire/core/transport';
import Database from 'better-sqlite3';
import { SqliteInspection } from './inspection.js';
import { prepareDatabase } from './schema.js';
import { prepareStatements, type SqliteItem, SqliteStore, type Statements } from './store.js';

/** Settings of one connection. */
export interface SqliteSettings {
  file: string;
  leaseMs: number;
  pollMs: number;
  codec: Codec;
}

/**
 * One open handle on the database file. Its queues are the kit's `PollingQueue`s over a {@link SqliteStore}: they
 * renew the leases of what they hold while the connection lives, and wake each other within this process. Its
 * `error` event (from the kit's `ConnectionEvents`) has nothing to report yet: a file has no link to lose.
 */
export class SqliteConnection extends ConnectionEvents implements Connection {
  private readonly owner = randomUUID();
  private readonly db: Database.Database;
  private readonly sql: Statements;
  private readonly wake: WakeSignal;
  private readonly inspection: StoreInspection;
  private readonly queues = new Set<PollingQueue<unknown, SqliteItem>>();
  private closed = false;

  constructor(
    readonly transport: Transport,
    private readonly settings: SqliteSettings,
  ) {
    super();
    this.db = new Database(settings.file);
    prepareDatabase(this.db);
    this.sql = prepareStatements(this.db);
    this.wake = sharedWakeSignal(settings.file);
    this.inspection = new StoreInspection(new SqliteInspection(this.db, this.sql), settings.codec, 'sqlite');
  }

  async queue<T = unknown>(name: string, options?: QueueOptions): Promise<DistributedQueue<T>> {
    if (this.closed) throw new ConnectionClosedError('sqlite connection is closed');
    const resolved = this.declare(name, options);
    const lifo = resolved.order === 'lifo';
    const store = new SqliteStore(this.db, this.sql, name, lifo, this.owner, (target) =>
      this.declare(target),
    );
    const { codec, pollMs, leaseMs } = this.settings;
    const queue = new PollingQueue<T, SqliteItem>(name, resolved, store, {
      backend: 'sqlite',
      codec,
      pollMs,
      leaseMs,
      wake: this.wake,
    });
    this.queues.add(queue as PollingQueue<unknown, SqliteItem>);
    return queue;
  }

  async publish<T>(_channel: string, _message: T): Promise<void> {
    throw new UnsupportedError('the sqlite transport has no broadcast');
  }

  async subscribe<T>(_channel: string, _handler: BroadcastHandler<T>): Promise<Subscription> {
    throw new UnsupportedError('the sqlite transport has no broadcast');
  }

  /**
   * End this connection as a crashed process would: nothing is given back, and what it held is served again once
   * its lease (or visibility timeout) passes. Later operations reject with `ConnectionClosedError`.
   */
  abandon(): void {
    if (this.closed) return;
    this.closed = true;
    for (const queue of this.queues) queue.abandon();
    this.wake.notify();
    this.db.close();
  }

  async listQueues(): Promise<string[]> {
    return this.inspect().listQueues();
  }

  async stats(name: string): Promise<QueueStats> {
    return this.inspect().stats(name);
  }

  async peek<T = unknown>(name: string, options?: PeekOptions): Promise<PeekedItem<T>[]> {
    return this.inspect().peek<T>(name, options);
  }

  async moveItems(from: string, to: string, options?: MoveOptions): Promise<number> {
    return this.inspect().moveItems(from, to, options);
  }

  async purgeQueue(name: string): Promise<number> {
    return this.inspect().purgeQueue(name);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const queue of this.queues) await queue.close();
    this.closed = true;
    this.db.close();
  }

  private inspect(): StoreInspection {
    if (this.closed) throw new ConnectionClosedError('sqlite connection is closed');
    return this.inspection;
  }

  /** Store a new queue's options, or check `options` against the stored ones (options left out are taken). */
  private declare(name: string, options?: QueueOptions): ResolvedQueueOptions {
    checkQueueName(name);
    const row = this.sql.declared.get(name) as { options: string } | undefined;
    if (!row) {
      const wanted = resolveQueueOptions(options);
      this.sql.declare.run(name, JSON.stringify(wanted));
      return wanted;
    }
    const existing = { deadLetter: undefined, ...JSON.parse(row.options) } as ResolvedQueueOptions;
    return checkRedeclaration(name, existing, options);
  }
}

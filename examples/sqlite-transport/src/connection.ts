import { randomUUID } from 'node:crypto';
import {
  type BroadcastHandler,
  type Codec,
  type Connection,
  ConnectionClosedError,
  type DistributedQueue,
  type QueueOptions,
  type Subscription,
  type Transport,
  UnsupportedError,
} from '@taskwire/core';
import {
  checkQueueName,
  checkRedeclaration,
  type ResolvedQueueOptions,
  resolveQueueOptions,
} from '@taskwire/core/transport';
import Database from 'better-sqlite3';
import { type QueueContext, SqliteQueue } from './queue.js';
import { prepareDatabase } from './schema.js';
import { ItemStore, type Order } from './store.js';
import { type Wakeups, wakeupsOf } from './wakeups.js';

/** Settings of one connection. */
export interface SqliteSettings {
  file: string;
  leaseMs: number;
  pollMs: number;
  codec: Codec;
}

/** One open handle on the database file. Its heartbeat keeps the leases of the items it holds. */
export class SqliteConnection implements Connection, QueueContext {
  readonly owner = randomUUID();
  readonly store: ItemStore;
  readonly wakeups: Wakeups;
  readonly codec: Codec;
  readonly leaseMs: number;
  readonly pollMs: number;
  private readonly db: Database.Database;
  private readonly selectQueue: Database.Statement;
  private readonly insertQueue: Database.Statement;
  private readonly queues = new Set<SqliteQueue<unknown>>();
  private readonly heartbeat: NodeJS.Timeout;
  private closed = false;

  constructor(
    readonly transport: Transport,
    settings: SqliteSettings,
  ) {
    this.db = new Database(settings.file);
    prepareDatabase(this.db);
    this.store = new ItemStore(this.db);
    this.selectQueue = this.db.prepare('SELECT options FROM taskwire_queues WHERE name = ?');
    this.insertQueue = this.db.prepare('INSERT OR IGNORE INTO taskwire_queues (name, options) VALUES (?, ?)');
    this.wakeups = wakeupsOf(settings.file);
    this.codec = settings.codec;
    this.leaseMs = settings.leaseMs;
    this.pollMs = settings.pollMs;
    this.heartbeat = setInterval(
      () => this.store.renew(this.owner, Date.now() + this.leaseMs),
      this.leaseMs / 3,
    );
    this.heartbeat.unref();
  }

  async queue<T = unknown>(name: string, options?: QueueOptions): Promise<DistributedQueue<T>> {
    this.assertOpen();
    const queue = new SqliteQueue<T>(this, name, this.declareOptions(name, options));
    this.queues.add(queue as SqliteQueue<unknown>);
    return queue;
  }

  declare(name: string): Order {
    return { queue: name, lifo: this.declareOptions(name, undefined).order === 'lifo' };
  }

  async publish<T>(_channel: string, _message: T): Promise<void> {
    throw new UnsupportedError('the sqlite transport has no broadcast');
  }

  async subscribe<T>(_channel: string, _handler: BroadcastHandler<T>): Promise<Subscription> {
    throw new UnsupportedError('the sqlite transport has no broadcast');
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /**
   * End this connection as a crashed process would: nothing is given back, and what it held is served again once
   * its lease (or visibility timeout) passes. Later operations reject with `ConnectionClosedError`.
   */
  abandon(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    this.wakeups.notify();
    this.db.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const queue of this.queues) await queue.close();
    this.closed = true;
    clearInterval(this.heartbeat);
    this.store.transaction(() => this.store.releaseOwner(this.owner, Date.now()));
    this.wakeups.notify();
    this.db.close();
  }

  assertOpen(): void {
    if (this.closed) throw new ConnectionClosedError('sqlite connection is closed');
  }

  /** Store a new queue's options, or check `options` against the stored ones (options left out are taken). */
  private declareOptions(name: string, options: QueueOptions | undefined): ResolvedQueueOptions {
    checkQueueName(name);
    const row = this.selectQueue.get(name) as { options: string } | undefined;
    if (!row) {
      const wanted = resolveQueueOptions(options);
      this.insertQueue.run(name, JSON.stringify(wanted));
      return wanted;
    }
    const existing = { deadLetter: undefined, ...JSON.parse(row.options) } as ResolvedQueueOptions;
    return checkRedeclaration(name, existing, options);
  }
}

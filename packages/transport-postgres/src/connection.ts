import { randomInt, randomUUID } from 'node:crypto';
import {
  AuthError,
  BackendError,
  type BroadcastHandler,
  type Codec,
  type Connection,
  ConnectionClosedError,
  type ConsumeOptions,
  type ConsumerHandle,
  createCodec,
  type DeliveryHandler,
  type DistributedQueue,
  decodingHandler,
  FrameTooLargeError,
  type MoveOptions,
  type PeekedItem,
  type PeekOptions,
  type QueueOptions,
  type QueueStats,
  type Subscription,
  type Transport,
} from '@taskwire/core';
import {
  ConnectionEvents,
  checkQueueName,
  checkRedeclaration,
  PollingQueue,
  type ResolvedQueueOptions,
  resolveQueueOptions,
  sharedWakeSignal,
  type WakeSignal,
  wrapBackendError,
} from '@taskwire/core/transport';
import pg from 'pg';
import { Inspector } from './inspection.js';
import { type ConsumerLock, Listener } from './listener.js';
import { migrate } from './migrations.js';
import type { PostgresSettings } from './options.js';
import { broadcastChannel, consumerLockClass, wakeChannel } from './sql.js';
import { type PostgresItem, PostgresStore, type Query } from './store.js';

/** NOTIFY payloads are at most 8000 bytes; a broadcast is sent as base64 text. */
const MAX_NOTIFY_BYTES = 7999;
/** Tries of a declare that lost a race to create its queue (see declare). */
const DECLARE_ATTEMPTS = 3;

/** A declared queue's row. */
interface DeclaredRow {
  id: number;
  options: ResolvedQueueOptions;
  created: boolean;
}

/** SQLSTATE classes of a lost session: connection exceptions (08) and operator intervention (57: shut down, killed). */
function isSessionLoss(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return /^(08|57P0)/.test(code) || code.startsWith('E');
  return /Connection terminated|not queryable|Client has encountered a connection error/i.test(
    String((error as Error | null)?.message),
  );
}

function isLoginRefusal(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '28P01' || code === '28000';
}

/** A queue whose consumers are counted: each holds an advisory lock on the connection's LISTEN session. */
class PostgresQueue<T> extends PollingQueue<T, PostgresItem> {
  private readonly locks = new Set<ConsumerLock>();

  constructor(
    name: string,
    options: ResolvedQueueOptions,
    store: PostgresStore,
    settings: ConstructorParameters<typeof PollingQueue>[3],
    private readonly listener: Listener,
    private readonly lockClass: number,
  ) {
    super(name, options, store, settings);
  }

  override async consume(handler: DeliveryHandler<T>, options?: ConsumeOptions): Promise<ConsumerHandle> {
    const handle = await super.consume(handler, options);
    const lock: ConsumerLock = [this.lockClass, randomInt(0, 2 ** 31)];
    this.locks.add(lock);
    await this.listener.lock(lock);
    return {
      cancel: async () => {
        await handle.cancel();
        if (this.locks.delete(lock)) await this.listener.unlock(lock);
      },
    };
  }

  override async close(): Promise<void> {
    await super.close();
    for (const lock of this.locks) void this.listener.unlock(lock);
    this.locks.clear();
  }
}

/**
 * A connection to PostgreSQL: a pool of sessions for statements and one LISTEN session for wake-ups, broadcasts and
 * the consumer count. Queues are the kit's `PollingQueue`s over a {@link PostgresStore}; their takers sleep on a
 * per-queue `WakeSignal` that the LISTEN session's notifications wake, so nothing polls while idle.
 *
 * A lost session is ridden out: the pool opens new ones, the LISTEN session comes back with backoff. Because a
 * take whose reply was lost may have held items for this connection, a loss gives the connection a new owner id:
 * what the old one held is no longer renewed and is served again once its lease passes (its attempt counted).
 * Terminal (reported once on `error`): the login refused on reconnect, or no LISTEN session for
 * `reconnectDeadlineMs`.
 */
export class PostgresConnection extends ConnectionEvents implements Connection {
  private owner = randomUUID();
  private readonly queues = new Set<PostgresQueue<unknown>>();
  private readonly wakes = new Map<string, WakeSignal>();
  private readonly subscribers = new Map<string, Set<(bytes: Uint8Array) => void>>();
  private readonly inspector: Inspector;
  private closed = false;

  private constructor(
    readonly transport: Transport,
    private readonly settings: PostgresSettings,
    private readonly pool: pg.Pool,
    private readonly listener: Listener,
    private readonly codec: Codec,
    /** `application_name` of every session: how a test finds and kills them. */
    readonly applicationName: string,
  ) {
    super();
    pool.on('error', () => this.lost());
    this.inspector = new Inspector(this.query, settings.schema, codec);
  }

  /** Open the pool and the LISTEN session, migrating the schema first unless told not to. */
  static async open(transport: Transport, settings: PostgresSettings): Promise<PostgresConnection> {
    const applicationName = `taskwire:${randomUUID()}`;
    const config = {
      connectionString: settings.connectionString,
      application_name: applicationName,
      connectionTimeoutMillis: settings.connectTimeoutMs,
    };
    const pool = new pg.Pool({ ...config, max: settings.poolSize });
    pool.on('error', () => undefined);
    let connection: PostgresConnection | undefined;
    const listener = new Listener(
      config,
      {
        notification: (channel, payload) => connection?.notified(channel, payload),
        lost: () => connection?.lost(),
        restored: () => connection?.restored(),
        failed: (error) => connection?.failed(error),
      },
      settings.reconnectDeadlineMs,
    );
    const migrated = async () => {
      const client = await pool.connect();
      try {
        if (settings.migrate) await migrate(client, settings.schema);
      } finally {
        client.release();
      }
    };
    try {
      // Both sessions at once: opening a session is most of a connect's time.
      const opened = await Promise.allSettled([migrated(), listener.open()]);
      for (const outcome of opened) if (outcome.status === 'rejected') throw outcome.reason;
    } catch (error) {
      await listener.close();
      await pool.end().catch(() => undefined);
      throw connectError(error, settings.display);
    }
    connection = new PostgresConnection(
      transport,
      settings,
      pool,
      listener,
      createCodec({ maxPayloadBytes: settings.maxPayloadBytes }),
      applicationName,
    );
    return connection;
  }

  async queue<T = unknown>(name: string, options?: QueueOptions): Promise<DistributedQueue<T>> {
    this.assertOpen();
    checkQueueName(name);
    const { options: resolved, id } = await this.declare(name, options);
    const channel = wakeChannel(this.settings.schema, name);
    const wake = sharedWakeSignal(`postgres:${this.settings.connectionString}/${channel}`);
    this.wakes.set(channel, wake);
    await this.listener.listen(channel);
    const store = new PostgresStore(this.query, {
      schema: this.settings.schema,
      queue: name,
      queueId: id,
      channel,
      lifo: resolved.order === 'lifo',
      maxsize: resolved.maxsize,
      owner: () => this.owner,
      durableSettles: this.settings.durableSettles,
      deadLetterOptions: JSON.stringify(resolveQueueOptions()),
    });
    const queue = new PostgresQueue<T>(
      name,
      resolved,
      store,
      {
        backend: 'postgres',
        codec: this.codec,
        pollMs: this.settings.pollMs,
        leaseMs: this.settings.leaseMs,
        wake,
      },
      this.listener,
      consumerLockClass(this.settings.schema, name),
    );
    this.queues.add(queue as PostgresQueue<unknown>);
    return queue;
  }

  async publish<T = unknown>(channel: string, message: T): Promise<void> {
    this.assertOpen();
    const text = Buffer.from(this.codec.encode(message)).toString('base64');
    if (text.length > MAX_NOTIFY_BYTES) {
      throw new FrameTooLargeError(
        `a broadcast on PostgreSQL is at most ${Math.floor((MAX_NOTIFY_BYTES * 3) / 4)} bytes encoded (NOTIFY's limit); this one is ${Math.ceil((text.length * 3) / 4)}`,
      );
    }
    try {
      await this.pool.query('SELECT pg_notify($1, $2)', [
        broadcastChannel(this.settings.schema, channel),
        text,
      ]);
    } catch (error) {
      throw wrapBackendError(error, `postgres: publishing on "${channel}"`);
    }
  }

  async subscribe<T = unknown>(channel: string, handler: BroadcastHandler<T>): Promise<Subscription> {
    this.assertOpen();
    const full = broadcastChannel(this.settings.schema, channel);
    const receive = decodingHandler(this.codec, handler);
    let handlers = this.subscribers.get(full);
    if (!handlers) {
      handlers = new Set();
      this.subscribers.set(full, handlers);
    }
    handlers.add(receive);
    await this.listener.listen(full);
    return {
      unsubscribe: async () => {
        const current = this.subscribers.get(full);
        if (!current?.delete(receive) || current.size > 0) return;
        this.subscribers.delete(full);
        await this.listener.unlisten(full);
      },
    };
  }

  listQueues(): Promise<string[]> {
    return this.inspect('listing queues', () => this.inspector.listQueues());
  }

  stats(name: string): Promise<QueueStats> {
    return this.inspect(`stats of "${name}"`, () => this.inspector.stats(name));
  }

  peek<T = unknown>(name: string, options: PeekOptions = {}): Promise<PeekedItem<T>[]> {
    return this.inspect(`peek at "${name}"`, () => this.inspector.peek<T>(name, options.limit));
  }

  moveItems(from: string, to: string, options?: MoveOptions): Promise<number> {
    return this.inspect(`moving items from "${from}" to "${to}"`, () =>
      this.inspector.moveItems(from, to, options),
    );
  }

  purgeQueue(name: string): Promise<number> {
    return this.inspect(`purge of "${name}"`, () => this.inspector.purgeQueue(name));
  }

  /** The backend pids of this connection's sessions (the pool's and the LISTEN one), as `pg_stat_activity` shows. */
  async backendPids(): Promise<number[]> {
    const rows = await this.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE application_name = $1',
      [this.applicationName],
    );
    return rows.map((row) => row.pid);
  }

  /**
   * Close every queue (giving back what they hold), then end the sessions. Resolves once the queues are closed: the
   * sessions end in the background, so a get rejected by the close is not left unhandled while they do.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.allSettled([...this.queues].map((queue) => queue.close()));
    this.closed = true;
    void this.listener.close();
    void this.pool.end().catch(() => undefined);
  }

  /** Run one statement on the pool; a lost session also makes this connection let go of what it held. */
  private readonly query: Query = async <R extends object>(
    text: string,
    values?: unknown[],
    name?: string,
  ) => {
    try {
      const result = name
        ? await this.pool.query<R>({ name, text, values })
        : await this.pool.query<R>(text, values);
      return result.rows;
    } catch (error) {
      if (isSessionLoss(error)) this.lost();
      throw error;
    }
  };

  /**
   * Declare queue `name`, or check `options` against the stored ones (options left out are taken); resolve with its
   * options and its number.
   */
  private async declare(
    name: string,
    options: QueueOptions | undefined,
  ): Promise<{ options: ResolvedQueueOptions; id: number }> {
    const wanted = resolveQueueOptions(options);
    let row: DeclaredRow | undefined;
    try {
      // A declare racing another one's uncommitted insert waits for it, then inserts nothing, and its snapshot,
      // taken before that commit, does not see the row either: it reads no row, and the next try sees it.
      for (let attempt = 0; !row && attempt < DECLARE_ATTEMPTS; attempt++) {
        [row] = await this.query<DeclaredRow>(
          `WITH created AS (
             INSERT INTO "${this.settings.schema}".queues (name, options) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING id, options)
           SELECT id, options, true AS created FROM created
           UNION ALL SELECT id, options, false FROM "${this.settings.schema}".queues WHERE name = $1`,
          [name, JSON.stringify(wanted)],
        );
      }
    } catch (error) {
      throw wrapBackendError(error, `postgres: declaring "${name}"`);
    }
    // Still none: the queue was deleted as often as it was created meanwhile.
    if (!row) throw new BackendError(`postgres: declaring "${name}": it was deleted while being declared`);
    if (row.created) return { options: wanted, id: row.id };
    return {
      options: checkRedeclaration(name, { ...row.options, deadLetter: row.options.deadLetter }, options),
      id: row.id,
    };
  }

  private async inspect<R>(what: string, work: () => Promise<R>): Promise<R> {
    this.assertOpen();
    try {
      return await work();
    } catch (error) {
      throw wrapBackendError(error, `postgres: ${what}`);
    }
  }

  private notified(channel: string, payload: string): void {
    const wake = this.wakes.get(channel);
    if (wake) {
      wake.notify();
      return;
    }
    const handlers = this.subscribers.get(channel);
    if (!handlers) return;
    const bytes = Buffer.from(payload, 'base64');
    for (const handler of [...handlers]) handler(bytes);
  }

  /** A session was lost: items this connection took may be held with no reply, so it takes them as a new owner. */
  private lost(): void {
    this.owner = randomUUID();
  }

  /** The LISTEN session is back: notifications sent meanwhile were missed, so every taker looks again. */
  private restored(): void {
    for (const wake of this.wakes.values()) wake.notify();
  }

  private failed(error: unknown): void {
    const failure = isLoginRefusal(error)
      ? new AuthError(
          `PostgreSQL at ${this.settings.display} refused the login on reconnect: ${(error as Error).message}`,
          {
            cause: error,
          },
        )
      : new ConnectionClosedError(
          `lost PostgreSQL at ${this.settings.display} for more than ${this.settings.reconnectDeadlineMs} ms: ${(error as Error).message}`,
          { cause: error },
        );
    if (!this.reportFailure(failure)) return;
    for (const queue of this.queues) queue.abandon();
    this.closed = true;
    void this.pool.end().catch(() => undefined);
  }

  private assertOpen(): void {
    const failure = this.terminalFailure;
    if (failure) throw failure;
    if (this.closed) throw new ConnectionClosedError('postgres connection is closed');
  }
}

/** The first connect's failure as a typed error: a refused login, or an unreachable server. */
function connectError(error: unknown, display: string): Error {
  const message = (error as Error).message || 'connection failed';
  if (isLoginRefusal(error)) {
    return new AuthError(`PostgreSQL at ${display} refused the login: ${message}`, { cause: error });
  }
  if ((error as { code?: string }).code && !isSessionLoss(error)) {
    return wrapBackendError(error, `postgres: connecting to ${display}`);
  }
  return new ConnectionClosedError(
    `cannot connect to PostgreSQL at ${display}: ${message} (is the server running and reachable?)`,
    { cause: error },
  );
}

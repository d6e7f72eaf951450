import { randomBytes } from 'node:crypto';
import {
  AuthError,
  type BroadcastHandler,
  type Codec,
  type Connection,
  ConnectionClosedError,
  createCodec,
  type DistributedQueue,
  decodingHandler,
  type MoveOptions,
  type PeekedItem,
  type PeekOptions,
  type QueueOptions,
  type QueueStats,
  redactUrl,
  type Subscription,
  type Transport,
} from '@taskwire/core';
import { backoffDelay, ConnectionEvents, checkQueueName, wrapBackendError } from '@taskwire/core/transport';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { BlockingPool } from './blocking.js';
import { RedisInspection } from './inspection.js';
import { broadcastChannel, queueKeys } from './keys.js';
import { RedisQueue } from './queue.js';
import { declareQueue } from './queue-options.js';
import type { RedisClient } from './scripts.js';
import { DEFAULT_REDIS_URL, parseRedisUrl, redisUrlSettings } from './url.js';
import { WriteTick } from './write-tick.js';

/** Options of the Redis transport's `connect()` (and defaults of `createRedisTransport()`). */
export interface RedisConnectOptions {
  /**
   * `redis://[user[:password]@]host[:port][/db]`, or `rediss://…` for TLS. Ignored with `client`.
   * @default 'redis://127.0.0.1:6379'
   */
  url?: string;
  /** Use this ioredis client (standalone or cluster) for commands; `close()` leaves it open. */
  client?: Redis | Cluster;
  /** Extra ioredis options, merged over those parsed from `url`. */
  redis?: RedisOptions;
  /**
   * Prefix of every key and channel; queues live under `{prefix:name}` (one cluster slot each).
   * @default 'taskwire'
   */
  prefix?: string;
  /**
   * How long a consumer's deliveries stay its own without a heartbeat (one every third of this).
   * When a process dies without closing, its deliveries return to their queue after this long,
   * even on queues whose `visibilityTimeoutMs` is 0.
   * @default 30000
   */
  leaseTtlMs?: number;
  /**
   * Longest single blocking wait; a waiting get or consumer re-checks the queue at least this often.
   * @default 5000
   */
  maxBlockMs?: number;
  /**
   * Time allowed for the first connection before `connect()` fails (later drops reconnect until
   * `reconnectDeadlineMs`).
   * @default 5000
   */
  connectTimeoutMs?: number;
  /**
   * How long a dropped connection keeps trying to come back (Redis restarting, a network cut) before it gives up
   * for good: pending commands then reject, later calls reject with a `ConnectionClosedError` saying so, and the
   * connection emits it as its `error` event. Also the URL parameter `?reconnectDeadlineMs=`; the same option on
   * every transport. @default 300000 (5 minutes)
   */
  reconnectDeadlineMs?: number;
  /** `CLIENT SETNAME` of the connections (blocking ones get `:block`, the subscriber `:sub`). */
  connectionName?: string;
  /** Largest encoded payload `put` accepts. @default 67108864 (64 MiB) */
  maxPayloadBytes?: number;
}

function checkReconnectDeadline(value: number): number {
  if (typeof value !== 'number' || !(value > 0)) {
    throw new RangeError(
      `reconnectDeadlineMs must be a number of milliseconds above 0 (got ${String(value)})`,
    );
  }
  return value;
}

/** ioredis's delay before reconnect attempt `times` (1-based): 100 ms, doubling to 2 s, jittered. */
function reconnectDelay(times: number): number {
  return backoffDelay(times, { baseMs: 100, maxMs: 2000 });
}

/** Redis's answer to a login it refuses (`WRONGPASS`, `NOAUTH`, or an older server's wording). */
function isLoginRefusal(error: Error): boolean {
  return /^(WRONGPASS|NOAUTH)|AUTH.*password/i.test(error.message);
}

/** How long a dropped connection keeps reconnecting by default: through a server restart. */
const DEFAULT_RECONNECT_DEADLINE_MS = 300_000;

/**
 * A connection to Redis: one pipelined command client, blocking clients on demand, a subscriber. Drops are ridden
 * out (ioredis reconnects with backoff, commands wait). Terminal, reported once on the `error` event before the
 * connection closes: a login refused on reconnect (the password changed, an `AuthError`), or no connection for
 * `reconnectDeadlineMs`.
 */
export class RedisConnection extends ConnectionEvents implements Connection {
  private readonly queues = new Set<RedisQueue<any>>();
  private readonly pool: BlockingPool;
  private readonly writes: WriteTick;
  private readonly idBase = randomBytes(6).toString('base64url');
  private ids = 0;
  private leaseCount = 0;
  private subscriber: Redis | Cluster | undefined;
  private readonly handlers = new Map<string, Set<(message: Buffer) => void>>();
  private closed = false;
  private closing: Promise<void> | undefined;
  private stopWatching: () => void = () => undefined;
  private inspector: RedisInspection | undefined;

  private constructor(
    readonly transport: Transport,
    private readonly client: RedisClient,
    private readonly ownsClient: boolean,
    private readonly codec: Codec,
    private readonly prefix: string,
    private readonly leaseTtlMs: number,
    private readonly maxBlockMs: number,
    private readonly connectionName: string | undefined,
    private readonly display: string,
    reconnectDeadlineMs: number,
  ) {
    super();
    client.on('error', (error: Error) => {
      if (!isLoginRefusal(error)) return;
      this.fail(
        new AuthError(`Redis at ${this.display} refused the login on reconnect: ${error.message}`, {
          cause: error,
        }),
      );
    });
    this.watchReconnects(reconnectDeadlineMs, display);
    this.pool = new BlockingPool(() => this.duplicate('block', false));
    this.writes = new WriteTick(client);
    let ready = client.status === 'ready';
    client.on('ready', () => {
      // After a reconnect, replies to takes in flight may have been lost: new takes use a fresh
      // lease, and whatever the old one still holds returns to the queue when it lapses.
      if (ready) {
        for (const queue of this.queues) queue.renewLease();
        this.reportReconnect();
      }
      ready = true;
    });
  }

  /** Connect (failing fast when Redis is unreachable) and return the connection. */
  static async open(transport: Transport, options: RedisConnectOptions): Promise<RedisConnection> {
    const fromUrl = options.client || !options.url ? {} : redisUrlSettings(options.url);
    const prefix = options.prefix ?? fromUrl.prefix ?? 'taskwire';
    const codec = createCodec({ maxPayloadBytes: options.maxPayloadBytes });
    const connectionName = options.connectionName;
    let client: RedisClient;
    const owns = options.client === undefined;
    if (options.client) {
      client = options.client;
    } else {
      const url = options.url ?? DEFAULT_REDIS_URL;
      let established = false;
      const redis = new Redis({
        ...parseRedisUrl(url),
        lazyConnect: true,
        // Off: the per-task commands already leave in one write each turn (WriteTick, the blocking pool's
        // waitThen), and auto-pipelining would add a Pipeline and a process.nextTick hop per turn on top.
        enableAutoPipelining: false,
        // Commands wait through a reconnect instead of failing after 20 retries.
        maxRetriesPerRequest: null,
        connectTimeout: options.connectTimeoutMs ?? 5000,
        ...(connectionName ? { connectionName } : {}),
        // Fail the first connect at once; afterwards reconnect forever with capped backoff.
        retryStrategy: (times) => (established ? reconnectDelay(times) : null),
        ...options.redis,
      });
      // Reported through the failing commands; the first connect's own reason (WRONGPASS,
      // ENOTFOUND…) comes only here, while connect() itself rejects with "Connection is closed".
      let lastError: Error | undefined;
      redis.on('error', (error: Error) => {
        if (!established) lastError = error;
      });
      try {
        await redis.connect();
      } catch (error) {
        redis.disconnect();
        const reason = lastError ?? (error as Error);
        if (isLoginRefusal(reason)) {
          throw new AuthError(`Redis at ${redactUrl(url)} refused the login: ${reason.message}`, {
            cause: reason,
          });
        }
        throw new ConnectionClosedError(
          `cannot connect to Redis at ${redactUrl(url)}: ${reason.message || 'connection failed'} (is the server running and reachable?)`,
          { cause: reason },
        );
      }
      established = true;
      client = redis;
    }
    return new RedisConnection(
      transport,
      client,
      owns,
      codec,
      prefix,
      options.leaseTtlMs ?? fromUrl.leaseTtlMs ?? 30_000,
      options.maxBlockMs ?? 5000,
      connectionName,
      options.client ? 'the given client' : redactUrl(options.url ?? DEFAULT_REDIS_URL),
      checkReconnectDeadline(
        options.reconnectDeadlineMs ?? fromUrl.reconnectDeadlineMs ?? DEFAULT_RECONNECT_DEADLINE_MS,
      ),
    );
  }

  async queue<T = unknown>(name: string, options?: QueueOptions): Promise<DistributedQueue<T>> {
    this.assertOpen();
    checkQueueName(name);
    const stored = await declareQueue(this.client, queueKeys(this.prefix, name).meta, name, options).catch(
      (error: unknown) => {
        throw wrapBackendError(error, `redis: declaring queue "${name}"`);
      },
    );
    this.assertOpen();
    const queue = new RedisQueue<T>(
      {
        client: this.client,
        pool: this.pool,
        writes: this.writes,
        codec: this.codec,
        prefix: this.prefix,
        leaseTtlMs: this.leaseTtlMs,
        maxBlockMs: this.maxBlockMs,
        nextId: () => `${this.idBase}${(++this.ids).toString(36)}`,
        nextLease: () => `${this.idBase}.${(++this.leaseCount).toString(36)}`,
        closing: () => this.closing,
        failed: () => this.terminalFailure !== undefined,
      },
      name,
      stored,
    );
    this.queues.add(queue);
    return queue;
  }

  async publish<T = unknown>(channel: string, message: T): Promise<void> {
    this.assertOpen();
    const bytes = this.codec.encode(message);
    await this.client
      .publish(broadcastChannel(this.prefix, channel), Buffer.from(bytes))
      .catch((error: unknown) => {
        throw wrapBackendError(error, `redis: publishing on "${channel}"`);
      });
  }

  async subscribe<T = unknown>(channel: string, handler: BroadcastHandler<T>): Promise<Subscription> {
    this.assertOpen();
    const full = broadcastChannel(this.prefix, channel);
    const subscriber = this.ensureSubscriber();
    const deliver = decodingHandler(this.codec, handler);
    let set = this.handlers.get(full);
    if (!set) {
      set = new Set();
      this.handlers.set(full, set);
      await subscriber.subscribe(full);
    }
    set.add(deliver);
    return {
      unsubscribe: async () => {
        const current = this.handlers.get(full);
        if (!current?.delete(deliver) || current.size > 0) return;
        this.handlers.delete(full);
        if (!this.closed) await subscriber.unsubscribe(full);
      },
    };
  }

  listQueues(): Promise<string[]> {
    this.assertOpen();
    return this.inspection.listQueues();
  }

  stats(name: string): Promise<QueueStats> {
    this.assertOpen();
    return this.inspection.stats(name);
  }

  peek<T = unknown>(name: string, options?: PeekOptions): Promise<PeekedItem<T>[]> {
    this.assertOpen();
    return this.inspection.peek<T>(name, options);
  }

  moveItems(from: string, to: string, options?: MoveOptions): Promise<number> {
    this.assertOpen();
    return this.inspection.moveItems(from, to, options);
  }

  purgeQueue(name: string): Promise<number> {
    this.assertOpen();
    return this.inspection.purgeQueue(name);
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /**
   * Give up once the command client has been without a connection for `deadlineMs`: ioredis itself would retry
   * for ever, and commands would wait for ever with it.
   */
  private watchReconnects(deadlineMs: number, display: string): void {
    let timer: NodeJS.Timeout | undefined;
    let lastError: Error | undefined;
    this.client.on('error', (error: Error) => {
      lastError = error;
    });
    this.client.on('close', () => {
      if (timer || this.closed) return;
      timer = setTimeout(() => {
        const reason = lastError ? ` (last error: ${lastError.message})` : '';
        this.fail(
          new ConnectionClosedError(
            `gave up reconnecting to Redis at ${display} after ${deadlineMs} ms without a connection (reconnectDeadlineMs)${reason}`,
            { cause: lastError, retryable: false },
          ),
        );
      }, deadlineMs);
    });
    // Never outlive the connection (and keep the process up while it waits: the deadline must fire).
    this.stopWatching = () => clearTimeout(timer);
    this.client.on('ready', () => {
      clearTimeout(timer);
      timer = undefined;
    });
  }

  /** The connection failed for good: report it once and close, dropping the sockets at once. */
  private fail(error: Error): void {
    if (this.closing || !this.reportFailure(error)) return;
    // Commands waiting through the reconnect loop reject now instead of waiting for ever.
    if (this.ownsClient) this.client.disconnect();
    this.closing = this.shutdown();
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    this.stopWatching();
    this.pool.close();
    await Promise.allSettled([...this.queues].map((queue) => queue.close()));
    this.subscriber?.disconnect();
    if (this.ownsClient) await this.client.quit().catch(() => this.client.disconnect());
  }

  /** Inspection (src/inspection.ts), made on first use. */
  private get inspection(): RedisInspection {
    this.inspector ??= new RedisInspection({ client: this.client, codec: this.codec, prefix: this.prefix });
    return this.inspector;
  }

  /** The Redis `CLIENT ID` of the command connection (for diagnostics and tests). */
  async clientId(): Promise<number> {
    return Number(await this.client.call('CLIENT', 'ID'));
  }

  private ensureSubscriber(): Redis | Cluster {
    if (!this.subscriber) {
      const subscriber = this.duplicate('sub', true);
      subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => {
        for (const deliver of this.handlers.get(channel.toString()) ?? []) deliver(message);
      });
      this.subscriber = subscriber;
    }
    return this.subscriber;
  }

  /** A new connection like the command one, for blocking commands or pub/sub. */
  private duplicate(role: string, pipelined: boolean): Redis {
    const name = this.connectionName ? { connectionName: `${this.connectionName}:${role}` } : {};
    const override: Partial<RedisOptions> = {
      ...name,
      enableAutoPipelining: pipelined,
      lazyConnect: false,
      maxRetriesPerRequest: null,
      retryStrategy: reconnectDelay,
    };
    const copy =
      this.client instanceof Cluster
        ? (this.client.duplicate(undefined, override) as unknown as Redis)
        : this.client.duplicate(override);
    copy.on('error', () => undefined);
    return copy;
  }

  private assertOpen(): void {
    if (this.closed) throw this.terminalFailure ?? new ConnectionClosedError('redis connection is closed');
  }
}

/**
 * The contract every taskwire transport implements. docs/design.md describes it in prose (queue semantics,
 * capabilities, errors, wire format, task layer); docs/decisions.md gives the reasons behind its choices.
 */

/** Order in which a queue serves its items. */
export type QueueOrder = 'fifo' | 'lifo' | 'priority';

/** Options fixed when a queue is declared. */
export interface QueueOptions {
  /**
   * Serving order. `priority` serves larger priorities first and is FIFO among equals.
   * @default 'fifo'
   */
  order?: QueueOrder;
  /**
   * Most items the queue holds (ready + delayed; deliveries in flight do not count). 0 = unbounded.
   * @default 0
   */
  maxsize?: number;
  /**
   * An unacked delivery becomes visible again after this many milliseconds. 0 = never (it is
   * returned only when its consumer's connection ends).
   * @default 0
   */
  visibilityTimeoutMs?: number;
  /**
   * Name of the queue that receives items nacked with `requeue: false` and undecodable messages.
   * Without it, nacked-without-requeue items are dropped and undecodable ones go to `<name>.dead`.
   */
  deadLetter?: string;
}

/** Options of one `put()`. */
export interface PutOptions {
  /** 0–255, larger is served first (only on `priority` queues). @default 0 */
  priority?: number;
  /** The item becomes visible only after this many milliseconds. @default 0 */
  delayMs?: number;
  /**
   * How long to wait for room on a full bounded queue before rejecting with `QueueFullError`.
   * `0` never waits; `undefined` waits as long as it takes.
   */
  timeoutMs?: number;
}

/** Options of one `get()`. */
export interface GetOptions {
  /** Reject with `QueueEmptyError` after this many ms with nothing to take. `undefined` = wait. */
  timeoutMs?: number;
}

/** Options of `nack()`. */
export interface NackOptions {
  /** Put the item back on its queue (true) or dead-letter it (false). @default true */
  requeue?: boolean;
  /** With `requeue`, the item becomes visible again only after this delay. @default 0 */
  delayMs?: number;
  /**
   * With `requeue`: false gives the item back as never started (a stopping worker returning work it prefetched):
   * its next delivery keeps this delivery's attempt number. @default true
   */
  countAttempt?: boolean;
}

/** One delivery of one item. Settle it exactly once with `ack()` or `nack()`. */
export interface Delivery<T> {
  /** The item's id; stable across redeliveries of the same item. */
  readonly id: string;
  /** The decoded item. */
  readonly body: T;
  /**
   * 1 on the first delivery, 2 on the first redelivery, and so on: every delivery counts, a crash
   * or a closed connection included, except one given back with `nack({ countAttempt: false })`.
   */
  readonly attempt: number;
  /** Remove the item for good. */
  ack(): Promise<void>;
  /** Give the item back (`requeue`, optionally delayed) or dead-letter it. */
  nack(options?: NackOptions): Promise<void>;
}

/** Options of `consume()`. */
export interface ConsumeOptions {
  /** Most unsettled deliveries this consumer holds at once. @default 100 */
  prefetch?: number;
}

/**
 * Called once per delivery. Settle the delivery (ack or nack). If the handler throws or rejects
 * before settling, the delivery is nacked with requeue.
 */
export type DeliveryHandler<T> = (delivery: Delivery<T>) => void | Promise<void>;

/** A running `consume()`. */
export interface ConsumerHandle {
  /** Stop receiving. Deliveries already received stay valid and must still be settled. */
  cancel(): Promise<void>;
}

/** A named queue on a connection. */
export interface DistributedQueue<T = unknown> {
  /** The queue's name as declared. */
  readonly name: string;
  /** Resolves once the backend has accepted the item. */
  put(item: T, options?: PutOptions): Promise<void>;
  /** Batched `put`: one round trip per batch where the backend allows. */
  putMany(items: Iterable<T>, options?: PutOptions): Promise<void>;
  /** Take one item. Rejects with `QueueEmptyError` after `timeoutMs`. */
  get(options?: GetOptions): Promise<Delivery<T>>;
  /** Push delivery with at most `prefetch` unsettled deliveries at a time. */
  consume(handler: DeliveryHandler<T>, options?: ConsumeOptions): Promise<ConsumerHandle>;
  /** Items ready or delayed (not counting deliveries in flight). */
  size(): Promise<number>;
  /** Remove every ready and delayed item. Resolves with how many were removed. */
  purge(): Promise<number>;
  /** Stop gets and consumers on this handle, wait for pending puts. */
  close(): Promise<void>;
  /**
   * Close this handle and remove the queue and its items from the backend. A later declaration
   * recreates it; other handles to it should not be used afterwards.
   */
  delete(): Promise<void>;
}

/** What a transport can do. Fixed at construction. */
export interface Capabilities {
  /** `order: 'lifo'`. */
  readonly lifo: boolean;
  /** `order: 'priority'`. */
  readonly priority: boolean;
  /** `maxsize` with a put that waits for room. */
  readonly maxsize: boolean;
  /** `delayMs` on put and nack. */
  readonly delayed: boolean;
  /** Items survive a restart of the backend. */
  readonly persistent: boolean;
  /** `deadLetter`. */
  readonly deadLetter: boolean;
  /** `publish`/`subscribe`: one message to every subscriber. */
  readonly broadcast: boolean;
  /** {@link Connection.stats}: counts by state of a queue the connection did not declare. */
  readonly stats: boolean;
  /** {@link Connection.peek}: items shown without taking them. */
  readonly peek: boolean;
  /** {@link Connection.listQueues}: the names of the queues on the backend. */
  readonly listQueues: boolean;
}

/** Names of {@link Capabilities}. */
export type Capability = keyof Capabilities;

/**
 * What {@link Connection.stats} reports about one queue, read in one go (not a snapshot across states where the
 * backend cannot give one). A count the backend cannot know is `undefined`, never a guess.
 */
export interface QueueStats {
  /** The queue's name. */
  readonly name: string;
  /** Items that can be taken now. */
  readonly ready: number;
  /** Items waiting out a delay (a delayed put or a delayed nack). */
  readonly delayed: number;
  /** Delivered and not yet settled; `undefined` where the backend cannot tell. */
  readonly inFlight: number | undefined;
  /** Live consumers; `undefined` where the backend cannot tell. */
  readonly consumers: number | undefined;
  /**
   * The queue's dead-letter queue (its `deadLetter` option, else `<name>.dead`, where undecodable items go) and its
   * ready + delayed items (0 when it does not exist yet).
   */
  readonly deadLetter: { readonly name: string; readonly size: number };
}

/** Options of {@link Connection.peek}. */
export interface PeekOptions {
  /** Most items returned, an integer 1–1000 (anything else is a `RangeError`). @default 10 */
  limit?: number;
}

/** One item shown by {@link Connection.peek}: a copy, still in the queue. */
export interface PeekedItem<T = unknown> {
  /** The item's id, as its deliveries will carry it. */
  readonly id: string;
  /** The decoded item; an item that cannot be decoded is shown as its raw bytes (a `Uint8Array`). */
  readonly body: T | Uint8Array;
  /** Deliveries made so far (0: never delivered). */
  readonly attempts: number;
  /** `ready` items come first, in serving order; then `delayed` ones, soonest first. */
  readonly state: 'ready' | 'delayed';
  /** When a delayed item becomes ready (epoch ms). */
  readonly readyAt?: number;
  /** Its priority, on a `priority` queue. */
  readonly priority?: number;
}

/** Options of {@link Connection.moveItems}. */
export interface MoveOptions {
  /** Move at most this many items (in serving order), an integer ≥ 0 (else a `RangeError`). @default every item */
  limit?: number;
  /** Move only the items with these ids (ready or delayed); ids of no such item are ignored. */
  ids?: readonly string[];
}

/** Receives broadcast messages. */
export type BroadcastHandler<T> = (message: T) => void;

/** A live subscription to a broadcast channel. */
export interface Subscription {
  /** Stop receiving. */
  unsubscribe(): Promise<void>;
}

/**
 * The events of a {@link Connection}: `error` (its terminal failure) and `reconnect` (a dropped connection to the
 * backend came back; counted by the metrics).
 */
export type ConnectionEvent = 'error' | 'reconnect';

/** Receives a connection's terminal failure, a `TaskwireError` (an `AuthError`, a `ConfigError`, …). */
export type ConnectionErrorListener = (error: Error) => void;

/** An open connection to a backend. */
export interface Connection {
  /** The transport that opened this connection. */
  readonly transport: Transport;
  /**
   * Declare (or open) a queue. Rejects with `UnsupportedError` for an option the transport cannot
   * do, and with `ConfigError` when the backend already has the queue with other options.
   */
  queue<T = unknown>(name: string, options?: QueueOptions): Promise<DistributedQueue<T>>;
  /** Send `message` to every current subscriber of `channel` (capability `broadcast`). */
  publish<T = unknown>(channel: string, message: T): Promise<void>;
  /** Receive every message published on `channel` from now on (capability `broadcast`). */
  subscribe<T = unknown>(channel: string, handler: BroadcastHandler<T>): Promise<Subscription>;
  /**
   * The names of the queues on the backend, sorted (capability `listQueues`; `UnsupportedError` without it).
   * Queues this transport created for itself (delay or due queues, bookkeeping) are not listed.
   */
  listQueues(): Promise<string[]>;
  /**
   * Counts of queue `name` by state, without declaring it (capability `stats`; `UnsupportedError` without it).
   * Rejects with `QueueNotFoundError` when the backend has no such queue.
   */
  stats(name: string): Promise<QueueStats>;
  /**
   * Show up to `limit` items of queue `name` without taking them: ready ones in serving order, then delayed ones
   * (capability `peek`; `UnsupportedError` without it). `QueueNotFoundError` when the backend has no such queue.
   */
  peek<T = unknown>(name: string, options?: PeekOptions): Promise<PeekedItem<T>[]>;
  /**
   * Move ready and delayed items of queue `from` to the back of queue `to` as fresh, ready items (attempts start
   * again; a priority is kept on a `priority` queue): how a dead-letter queue is requeued. Both queues must exist
   * (`QueueNotFoundError`); a bounded `to` takes only what fits. Items in flight stay. Resolves with how many moved.
   * Every transport implements it.
   */
  moveItems(from: string, to: string, options?: MoveOptions): Promise<number>;
  /**
   * Remove every ready and delayed item of queue `name` without declaring it; resolves with how many.
   * `QueueNotFoundError` when the backend has no such queue. Every transport implements it.
   */
  purgeQueue(name: string): Promise<number>;
  /**
   * Close every queue, requeue this connection's unsettled deliveries, reject waiting gets with
   * `ConnectionClosedError`, and free resources.
   */
  close(): Promise<void>;
  /**
   * Listen for the connection's terminal failure: emitted once, with a typed `TaskwireError`, when the connection
   * has given up for good and will not come back by itself (a login refused on reconnect, a queue or consumer it
   * could not restore, a backend unreachable past the transport's deadline). Drops the connection rides out are
   * not reported. Afterwards every operation rejects; only `close()` is left to call. With no listener the
   * failure is printed as a process warning. Transports get it from `ConnectionEvents` in
   * `@taskwire/core/transport`. `reconnect` (no argument): each time a dropped connection to the backend came
   * back (the metrics count it; the memory transport never drops).
   */
  on(event: ConnectionEvent, listener: ConnectionErrorListener): this;
  /** Remove a listener added with {@link Connection.on}. */
  off(event: ConnectionEvent, listener: ConnectionErrorListener): this;
}

/** Options every transport's `connect()` understands; transports add their own. */
export interface ConnectOptions {
  /** Where to connect, e.g. `redis://127.0.0.1:6379`. */
  url?: string;
  /**
   * Largest encoded payload accepted by `put`.
   * @default 67108864 (64 MiB)
   */
  maxPayloadBytes?: number;
  /** Anything else is transport-specific. */
  [option: string]: unknown;
}

/** Options of {@link Transport.serve}. */
export interface HostOptions {
  /** Interface to listen on. */
  host?: string;
  /** Port to listen on (0 = any free port). */
  port?: number;
  /** Shared secret clients must prove they know. */
  authkey?: string | Uint8Array;
  /** Anything else is transport-specific. */
  [option: string]: unknown;
}

/** A server a transport runs inside the application (see {@link Transport.serve}). */
export interface HostedServer {
  /** The URL clients connect to. */
  readonly url: string;
  /** An in-process connection to the hosted queues (no socket, no authentication). */
  connect(options?: ConnectOptions): Promise<Connection>;
  /** Stop serving and drop every client. */
  close(): Promise<void>;
}

/** A backend. Transports are usually created by a `create<Backend>Transport()` factory. */
export interface Transport {
  /** Short name, e.g. `redis`. */
  readonly name: string;
  /** URL schemes this transport handles, e.g. `['redis', 'rediss']`. */
  readonly schemes: readonly string[];
  /** What this transport can do. */
  readonly capabilities: Capabilities;
  /**
   * The consume window that keeps this backend busy with small tasks, for consumers that do not choose one (a
   * task-layer `Worker`): large where deliveries are cheap to push and hold (the TCP manager), smaller where each
   * held delivery costs the backend something (a lease). @default 256
   */
  readonly recommendedPrefetch?: number;
  /** Open a connection. */
  connect(options?: ConnectOptions): Promise<Connection>;
  /**
   * Bring the backend's schema to this version and resolve with the versions applied (none when up to date), for
   * teams that apply migrations themselves (`taskwire migrate`). Only transports that keep a schema have it; they
   * also migrate on connect.
   */
  migrate?(options?: ConnectOptions): Promise<string[]>;
  /**
   * Host the queues in this process (the TCP manager: the master is the server). Only transports
   * whose backend can run embedded have it.
   */
  serve?(options: HostOptions): Promise<HostedServer>;
}

import {
  AuthError,
  type BroadcastHandler,
  type Codec,
  type Connection,
  ConnectionClosedError,
  createCodec,
  type DeliveryHandler,
  decodingHandler,
  type MoveOptions,
  type NackOptions,
  type PeekedItem,
  type PeekOptions,
  type QueueOptions,
  type QueueStats,
  type Subscription,
  type Transport,
} from '@taskwire/core';
import {
  backoffDelay,
  ConnectionEvents,
  checkQueueName,
  peekedBody,
  resolveMoveOptions,
  resolvePeekLimit,
  resolveQueueOptions,
} from '@taskwire/core/transport';
import { resolveAuthkey } from './auth.js';
import { type AuthenticatedSocket, openAuthenticatedSocket } from './authenticated-socket.js';
import type { TcpConnectOptions } from './connect-options.js';
import { checkPayloadFits } from './frame-budget.js';
import { type ManagerAddress, parseManagerUrl } from './manager-address.js';
import { Outbox } from './outbox.js';
import {
  asArray,
  asBytes,
  asOptionalUint,
  asString,
  asUint,
  DEFAULT_PORT,
  decodeFrame,
  Op,
} from './protocol.js';
import { PushReceiver } from './push-receiver.js';
import { TcpQueue } from './queue.js';
import type { ClientConsumer, HandleState, QueueContext } from './queue-context.js';
import { RequestPipeline } from './request-pipeline.js';

export type { TcpConnectOptions } from './connect-options.js';

type State = 'open' | 'reconnecting' | 'failed' | 'closed';

/** The socket in use, with its outbox. */
interface OpenSocket extends AuthenticatedSocket {
  readonly outbox: Outbox;
  /** Resolves when the socket has closed (it may already have). */
  readonly closed: Promise<unknown>;
}

const INITIAL_RECONNECT_DELAY_MS = 100;
const DEFAULT_RECONNECT_STABLE_MS = 5000;
/** How long a lost connection keeps reconnecting by default: through a manager restart. */
const DEFAULT_RECONNECT_DEADLINE_MS = 300_000;
const GOODBYE_TIMEOUT_MS = 5000;
const RESOLVED = Promise.resolve();

/**
 * A client connection to a TCP manager. Requests are pipelined and matched to replies by id;
 * everything written during one event-loop turn leaves in one socket write.
 *
 * When the socket drops, pending requests reject with `ConnectionClosedError` (waiting gets
 * included), unsettled deliveries become no-ops (the server has already requeued them), and the
 * connection reconnects with backoff, declaring its queues and then restarting its consumers and
 * subscriptions once. The backoff starts again from its first step only after a connection has been
 * restored and stayed up for `reconnectStableMs`, so a server that drops every connection right after
 * the handshake sees the client back off, never a storm.
 *
 * Terminal failures end in the `error` event, with the error every later operation rejects with: an
 * `AuthError` on reconnect (the server came back with another key), a queue the server refuses to
 * declare again (a `ConfigError`, say), or a lost connection with `reconnect: false`.
 */
export class TcpConnection extends ConnectionEvents implements Connection, QueueContext {
  /** Increases on every (re)connect; deliveries from an older epoch cannot be settled. */
  epoch = 0;
  private state: State = 'open';
  private socket: OpenSocket | undefined;
  private failure: Error | undefined;
  /** The reason the server gave before closing (a FATAL push). */
  private fatal: Error | undefined;
  private nextHandle = 0;
  private readonly pipeline = new RequestPipeline();
  private readonly queues = new Map<number, TcpQueue<any>>();
  private readonly pushes = new PushReceiver((queue, tag, epoch) => {
    void this.nack(queue, tag, epoch, { requeue: true, countAttempt: false }, false);
  });
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** Reconnect attempts since the last connection that stayed up; sets the next backoff step. */
  private reconnectAttempt = 0;
  /** When the connection was last lost, and why: the reconnect deadline counts from there. */
  private droppedAt = 0;
  private lastError: Error | undefined;
  private stableTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly transport: Transport,
    private readonly address: ManagerAddress,
    private readonly key: Buffer,
    private readonly codec: Codec,
    private readonly options: TcpConnectOptions,
    socket: AuthenticatedSocket,
  ) {
    super();
    this.attach(socket);
  }

  /**
   * Connect and authenticate.
   * @throws ConfigError (bad URL, no authkey), AuthError (key rejected), ConnectionClosedError
   *   (unreachable, naming the URL).
   */
  static async open(transport: Transport, options: TcpConnectOptions): Promise<TcpConnection> {
    const address = parseManagerUrl(options.url ?? `tcp://127.0.0.1:${DEFAULT_PORT}`);
    const deadline = options.reconnectDeadlineMs;
    if (deadline !== undefined && !(typeof deadline === 'number' && deadline > 0)) {
      throw new RangeError(
        `reconnectDeadlineMs must be a number of milliseconds above 0 (got ${String(deadline)})`,
      );
    }
    const key = resolveAuthkey(options);
    const codec = createCodec({ maxPayloadBytes: options.maxPayloadBytes });
    const socket = await openAuthenticatedSocket(address, key, {
      tls: options.tls,
      timeoutMs: options.connectTimeoutMs ?? 10_000,
    });
    return new TcpConnection(transport, address, key, codec, options, socket);
  }

  /** The server's frame limit (puts above it are refused locally). */
  get maxFrameBytes(): number {
    return this.socket?.maxFrameBytes ?? Number.MAX_SAFE_INTEGER;
  }

  async queue<T = unknown>(name: string, options: QueueOptions = {}): Promise<TcpQueue<T>> {
    // Refuse a bad name or bad options here, before a round trip (the server checks them again).
    checkQueueName(name);
    resolveQueueOptions(options);
    const handle = ++this.nextHandle;
    const declared = definedOptions(options);
    await this.request([0, Op.DECLARE, handle, name, declared]);
    const queue = new TcpQueue<T>(this, handle, name, declared, this.codec);
    this.queues.set(handle, queue);
    return queue;
  }

  async publish<T = unknown>(channel: string, message: T): Promise<void> {
    const payload = this.codec.encode(message);
    checkPayloadFits(payload, this.maxFrameBytes, 'message');
    await this.request([0, Op.PUBLISH, channel, payload]);
  }

  async subscribe<T = unknown>(channel: string, handler: BroadcastHandler<T>): Promise<Subscription> {
    const id = this.pushes.subscriptionId();
    const receive = decodingHandler(this.codec, handler);
    await this.request([0, Op.SUBSCRIBE, id, channel]);
    this.pushes.addSubscription(id, channel, receive);
    return {
      unsubscribe: async () => {
        if (!this.pushes.removeSubscription(id)) return;
        await this.request([0, Op.UNSUBSCRIBE, id]).catch(() => undefined);
      },
    };
  }

  async listQueues(): Promise<string[]> {
    const names = asArray(await this.request([0, Op.LIST_QUEUES]), 'queue names');
    return names.map((name) => asString(name, 'queue name'));
  }

  async stats(name: string): Promise<QueueStats> {
    checkQueueName(name);
    const reply = asArray(await this.request([0, Op.STATS, name]), 'stats');
    return {
      name,
      ready: asUint(reply[0], 'ready'),
      delayed: asUint(reply[1], 'delayed'),
      inFlight: asUint(reply[2], 'inFlight'),
      consumers: asUint(reply[3], 'consumers'),
      deadLetter: {
        name: asString(reply[4], 'dead-letter queue'),
        size: asUint(reply[5], 'dead-letter size'),
      },
    };
  }

  /** Items past the server's frame limit are left out: a peek reply is one frame. */
  async peek<T = unknown>(name: string, options: PeekOptions = {}): Promise<PeekedItem<T>[]> {
    checkQueueName(name);
    const limit = resolvePeekLimit(options.limit);
    const items = asArray(await this.request([0, Op.PEEK, name, limit]), 'peeked items');
    return items.map((entry) => {
      const [id, payload, attempts, state, readyAt, priority] = asArray(entry, 'peeked item');
      const item: PeekedItem<T> = {
        id: asString(id, 'item id'),
        body: peekedBody(this.codec, asBytes(payload, 'payload')) as T | Uint8Array,
        attempts: asUint(attempts, 'attempts'),
        state: state === 'delayed' ? 'delayed' : 'ready',
      };
      const due = asOptionalUint(readyAt, 'readyAt');
      const rank = asOptionalUint(priority, 'priority');
      return {
        ...item,
        ...(due === undefined ? {} : { readyAt: due }),
        ...(rank === undefined ? {} : { priority: rank }),
      };
    });
  }

  async moveItems(from: string, to: string, options?: MoveOptions): Promise<number> {
    checkQueueName(from);
    checkQueueName(to);
    const { limit, ids } = resolveMoveOptions(options);
    const reply = await this.request([
      0,
      Op.MOVE_ITEMS,
      from,
      to,
      Number.isFinite(limit) ? limit : null,
      ids ? [...ids] : null,
    ]);
    return asUint(reply, 'moved');
  }

  async purgeQueue(name: string): Promise<number> {
    checkQueueName(name);
    return asUint(await this.request([0, Op.PURGE_QUEUE, name]), 'purged');
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.stableTimer);
    for (const queue of this.queues.values()) queue.closed = true;
    const socket = this.socket;
    // Waiting gets are rejected by the server during close; settling them only as close()
    // returns lets a caller who awaits close() before handling the get see no unhandled rejection.
    this.pipeline.holdErrors();
    if (socket) {
      // The server requeues our deliveries and rejects our waiters before it replies, so pending
      // gets settle with ConnectionClosedError and accepted puts are confirmed first.
      const goodbye = this.pipeline.send(socket.outbox, [0, Op.GOODBYE]);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        goodbye.catch(() => undefined),
        new Promise((resolve) => {
          timer = setTimeout(resolve, GOODBYE_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
      socket.socket.end();
      socket.socket.destroySoon();
      await socket.closed;
    }
    this.pipeline.fail(new ConnectionClosedError(`connection to ${this.address.label} is closed`));
    this.pipeline.releaseErrors();
  }

  request(message: unknown[]): Promise<unknown> {
    const socket = this.socket;
    if (this.state !== 'open' || !socket) return Promise.reject(this.unavailable());
    return this.pipeline.send(socket.outbox, message);
  }

  put(handle: number, payload: Uint8Array): Promise<void> {
    if (this.state !== 'open' || !this.socket) return Promise.reject(this.unavailable());
    return this.pipeline.put(handle, payload);
  }

  ack(queue: HandleState, tag: number, epoch: number): Promise<void> {
    if (epoch !== this.epoch || queue.closed || this.state !== 'open' || !this.socket) return RESOLVED;
    return this.pipeline.ack(queue.handle, tag);
  }

  nack(
    queue: HandleState,
    tag: number,
    epoch: number,
    options: NackOptions,
    undecodable: boolean,
  ): Promise<void> {
    if (epoch !== this.epoch || queue.closed) return RESOLVED;
    return this.request([
      0,
      Op.NACK,
      queue.handle,
      tag,
      options.requeue ?? true,
      options.delayMs ?? null,
      undecodable,
      options.countAttempt ?? true,
    ]).then(
      () => undefined,
      () => undefined,
    );
  }

  /** @internal */
  addConsumer(queue: HandleState, handler: DeliveryHandler<any>, prefetch: number): ClientConsumer {
    return this.pushes.addConsumer(queue, handler, prefetch);
  }

  /** @internal */
  removeConsumer(consumer: ClientConsumer): void {
    this.pushes.removeConsumer(consumer);
  }

  /** @internal */
  forgetQueue(queue: HandleState): void {
    this.pipeline.forget(queue.handle);
    this.queues.delete(queue.handle);
  }

  private attach(authenticated: AuthenticatedSocket): void {
    const outbox = new Outbox(authenticated.socket, this.pipeline.flushBatches, authenticated.maxFrameBytes);
    const closed = new Promise((resolve) => authenticated.socket.once('close', resolve));
    const open: OpenSocket = { ...authenticated, outbox, closed };
    this.socket = open;
    this.pipeline.attach(outbox);
    this.epoch++;
    this.fatal = undefined;
    authenticated.reader.setLimit(authenticated.maxFrameBytes);
    const { socket, reader } = authenticated;
    socket.setKeepAlive(true, 15_000);
    socket.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk, this.onFrame);
      } catch (error) {
        this.fatal ??= error as Error;
        socket.destroy();
      }
    });
    socket.on('error', () => undefined); // 'close' follows
    socket.once('close', () => this.onClose(open));
  }

  private readonly onFrame = (body: Buffer): void => {
    const message = decodeFrame(body);
    const id = asUint(message[0], 'reply id');
    if (id === 0) {
      const fatal = this.pushes.receive(message, this.epoch);
      if (fatal) this.fatal = fatal;
    } else this.pipeline.onReply(id, message);
  };

  private onClose(socket: OpenSocket): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    clearTimeout(this.stableTimer);
    this.pipeline.attach(undefined);
    socket.outbox.clear();
    const reason = this.fatal ?? new ConnectionClosedError(`connection to ${this.address.label} lost`);
    this.pipeline.fail(reason);
    if (this.state !== 'open') return;
    if (this.options.reconnect === false) {
      this.fail(reason);
      return;
    }
    // The attempt count is not reset here: only a restored connection that stayed up resets it (see restore).
    this.state = 'reconnecting';
    this.droppedAt = Date.now();
    this.lastError = reason;
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const deadlineMs = this.reconnectDeadlineMs;
    const remaining = this.droppedAt + deadlineMs - Date.now();
    if (remaining <= 0) {
      this.fail(
        new ConnectionClosedError(
          `gave up reconnecting to ${this.address.label} after ${deadlineMs} ms without a connection (reconnectDeadlineMs; last error: ${this.lastError?.message})`,
          { cause: this.lastError, retryable: false },
        ),
      );
      return;
    }
    // The last attempt falls on the deadline, never after it.
    const delay = Math.min(
      remaining,
      backoffDelay(++this.reconnectAttempt, {
        baseMs: INITIAL_RECONNECT_DELAY_MS,
        maxMs: this.options.reconnectMaxDelayMs ?? 5000,
      }),
    );
    this.reconnectTimer = setTimeout(() => void this.reconnect(), delay);
  }

  private get reconnectDeadlineMs(): number {
    return (
      this.options.reconnectDeadlineMs ?? this.address.reconnectDeadlineMs ?? DEFAULT_RECONNECT_DEADLINE_MS
    );
  }

  private async reconnect(): Promise<void> {
    if (this.state !== 'reconnecting') return;
    let socket: AuthenticatedSocket;
    try {
      socket = await openAuthenticatedSocket(this.address, this.key, {
        tls: this.options.tls,
        timeoutMs: this.options.connectTimeoutMs ?? 10_000,
      });
    } catch (error) {
      if (this.state !== 'reconnecting') return;
      if (AuthError.isInstance(error)) {
        // A key mismatch will not fix itself: stop instead of hammering the server.
        this.fail(error);
        return;
      }
      this.lastError = error as Error;
      this.scheduleReconnect();
      return;
    }
    if (this.state !== 'reconnecting') {
      socket.socket.destroy();
      return;
    }
    this.attach(socket);
    this.state = 'open';
    this.reportReconnect();
    void this.restore(this.socket!);
  }

  /**
   * Declare every open queue, then (only once all are declared) restart every consumer and subscription on the
   * new socket. A refusal stops the restore there: a CONSUME on a handle the server did not declare would be a
   * protocol error, and the reconnect would repeat it for ever. A refusal that may pass later (`retryable`) drops
   * this socket and reconnects with the backoff still growing; any other fails the connection for good.
   */
  private async restore(socket: OpenSocket): Promise<void> {
    // Only what existed when the socket came: a consumer or subscription started during the restore sends its
    // own request, and one stopped during it must not start again.
    const existing = new Set(this.pushes.restoreRequests().map(restoreKey));
    const steps = [
      () =>
        [...this.queues.values()].map((queue) =>
          this.request([0, Op.DECLARE, queue.handle, queue.name, queue.options]),
        ),
      () =>
        this.pushes
          .restoreRequests()
          .filter((request) => existing.has(restoreKey(request)))
          .map((request) => this.request(request)),
    ];
    for (const step of steps) {
      const outcomes = await Promise.allSettled(step());
      // The socket went while we waited: its close already scheduled the next attempt.
      if (this.socket !== socket || this.state !== 'open') return;
      const refused = outcomes.find((outcome) => outcome.status === 'rejected');
      if (refused) {
        const error = (refused as PromiseRejectedResult).reason as Error;
        if ((error as { retryable?: boolean }).retryable === true) socket.socket.destroy();
        else this.fail(error);
        return;
      }
    }
    this.stableTimer = setTimeout(() => {
      this.reconnectAttempt = 0;
    }, this.options.reconnectStableMs ?? DEFAULT_RECONNECT_STABLE_MS);
    this.stableTimer.unref();
  }

  /** Give up for good: later operations reject with `failure`, and listeners of `error` hear it once. */
  private fail(failure: Error): void {
    this.state = 'failed';
    this.failure = failure;
    clearTimeout(this.stableTimer);
    const socket = this.socket;
    if (socket) {
      this.socket = undefined;
      this.pipeline.attach(undefined);
      socket.outbox.clear();
      this.pipeline.fail(failure);
      socket.socket.destroy();
    }
    this.reportFailure(failure);
  }

  private unavailable(): Error {
    switch (this.state) {
      case 'reconnecting':
        return new ConnectionClosedError(`not connected to ${this.address.label} (reconnecting)`);
      case 'failed':
        return this.failure ?? new ConnectionClosedError(`connection to ${this.address.label} failed`);
      default:
        return new ConnectionClosedError(`connection to ${this.address.label} is closed`);
    }
  }
}

/** Names a CONSUME or SUBSCRIBE of {@link PushReceiver.restoreRequests} by its op and consumer or subscription id. */
function restoreKey(request: unknown[]): string {
  return request[1] === Op.CONSUME ? `consume:${String(request[3])}` : `subscribe:${String(request[2])}`;
}

/** Queue options without `undefined` values (msgpack would encode them as an extension). */
function definedOptions(options: QueueOptions): QueueOptions {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) if (value !== undefined) out[key] = value;
  return out as QueueOptions;
}

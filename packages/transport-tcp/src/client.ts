import type { ConnectionOptions } from 'node:tls';
import {
  AuthError,
  type BroadcastHandler,
  type Codec,
  type Connection,
  ConnectionClosedError,
  type ConnectOptions,
  createCodec,
  type DeliveryHandler,
  decodingHandler,
  type NackOptions,
  type QueueOptions,
  resolveQueueOptions,
  runHandler,
  type Subscription,
  type Transport,
} from '@taskwire/core';
import { type AuthkeySource, resolveAuthkey } from './auth.js';
import { type Deferred, deferred } from './deferred.js';
import { type Endpoint, parseEndpoint } from './endpoint.js';
import { type Link, openLink } from './link.js';
import { Outbox } from './outbox.js';
import {
  asArray,
  asBytes,
  asString,
  asUint,
  BATCH_MAX_BYTES,
  BATCH_MAX_ITEMS,
  DEFAULT_PORT,
  decodeFrame,
  errorFromWire,
  Op,
  Push,
  Status,
} from './protocol.js';
import { type ClientConsumer, TcpQueue } from './queue.js';

/** Options of `connect()` on the TCP transport. */
export interface TcpConnectOptions extends ConnectOptions, AuthkeySource {
  /**
   * `tcp://host:port`, or `tcps://host:port` for TLS.
   * @default 'tcp://127.0.0.1:5555'
   */
  url?: string;
  /** TLS options for `tcps://`, e.g. `{ ca }` to trust a private certificate. */
  tls?: ConnectionOptions;
  /**
   * Give up on one connection attempt (TCP connect plus handshake) after this many ms.
   * @default 10000
   */
  connectTimeoutMs?: number;
  /**
   * Reconnect with exponential backoff after a lost connection (never after an `AuthError`).
   * @default true
   */
  reconnect?: boolean;
  /**
   * Longest wait between two reconnect attempts.
   * @default 5000
   */
  reconnectMaxDelayMs?: number;
}

type State = 'open' | 'reconnecting' | 'failed' | 'closed';

/** Plain puts to one queue handle made during this turn, sent as one PUT_MANY frame. */
interface PutBatch {
  readonly payloads: Uint8Array[];
  bytes: number;
  readonly done: Deferred<unknown>;
}

/** Acks to one queue handle made during this turn, sent as one ACK frame. */
interface AckBatch {
  readonly tags: number[];
  readonly done: Deferred<unknown>;
}

interface OpenLink extends Link {
  readonly outbox: Outbox;
  /** Resolves when the socket has closed (it may already have). */
  readonly closed: Promise<unknown>;
}

const INITIAL_RECONNECT_DELAY_MS = 100;
const GOODBYE_TIMEOUT_MS = 5000;
const RESOLVED = Promise.resolve();

/**
 * A client connection to a TCP manager. Requests are pipelined and matched to replies by id;
 * everything written during one event-loop turn leaves in one socket write.
 *
 * When the socket drops, pending requests reject with `ConnectionClosedError` (waiting gets
 * included), unsettled deliveries become no-ops (the server has already requeued them), and the
 * connection reconnects with backoff, declaring its queues and restarting its consumers and
 * subscriptions once. An `AuthError` on reconnect is final.
 */
export class TcpConnection implements Connection {
  /** Increases on every (re)connect; deliveries from an older epoch cannot be settled. */
  epoch = 0;
  private state: State = 'open';
  private link: OpenLink | undefined;
  private failure: Error | undefined;
  /** The reason the server gave before closing (a FATAL push). */
  private fatal: Error | undefined;
  private nextRequestId = 0;
  private nextHandle = 0;
  private nextConsumerId = 0;
  private nextSubscriptionId = 0;
  private readonly pending = new Map<number, Deferred<unknown>>();
  private readonly queues = new Map<number, TcpQueue<any>>();
  private readonly consumers = new Map<number, ClientConsumer>();
  private readonly subscriptions = new Map<
    number,
    { channel: string; handler: (bytes: Uint8Array) => void }
  >();
  private readonly putBatches = new Map<number, PutBatch>();
  private readonly ackBatches = new Map<number, AckBatch>();
  /** While `close()` runs, error replies wait here and settle as it returns (see close()). */
  private heldErrors: [Deferred<unknown>, Error][] | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectAttempt = 0;

  private constructor(
    readonly transport: Transport,
    private readonly endpoint: Endpoint,
    private readonly key: Buffer,
    private readonly codec: Codec,
    private readonly options: TcpConnectOptions,
    link: Link,
  ) {
    this.attach(link);
  }

  /**
   * Connect and authenticate.
   * @throws ConfigError (bad URL, no authkey), AuthError (key rejected), ConnectionClosedError
   *   (unreachable, naming the URL).
   */
  static async open(transport: Transport, options: TcpConnectOptions): Promise<TcpConnection> {
    const endpoint = parseEndpoint(options.url ?? `tcp://127.0.0.1:${DEFAULT_PORT}`);
    const key = resolveAuthkey(options);
    const codec = createCodec({ maxPayloadBytes: options.maxPayloadBytes });
    const link = await openLink(endpoint, key, {
      tls: options.tls,
      timeoutMs: options.connectTimeoutMs ?? 10_000,
    });
    return new TcpConnection(transport, endpoint, key, codec, options, link);
  }

  /** The server's frame limit (puts above it are refused locally). */
  get maxFrameBytes(): number {
    return this.link?.maxFrameBytes ?? Number.MAX_SAFE_INTEGER;
  }

  async queue<T = unknown>(name: string, options: QueueOptions = {}): Promise<TcpQueue<T>> {
    resolveQueueOptions(options); // refuse bad options here, before a round trip
    const handle = ++this.nextHandle;
    const declared = definedOptions(options);
    await this.request([0, Op.DECLARE, handle, name, declared]);
    const queue = new TcpQueue<T>(this, handle, name, declared, this.codec);
    this.queues.set(handle, queue);
    return queue;
  }

  async publish<T = unknown>(channel: string, message: T): Promise<void> {
    await this.request([0, Op.PUBLISH, channel, this.codec.encode(message)]);
  }

  async subscribe<T = unknown>(channel: string, handler: BroadcastHandler<T>): Promise<Subscription> {
    const id = ++this.nextSubscriptionId;
    const receive = decodingHandler(this.codec, handler);
    await this.request([0, Op.SUBSCRIBE, id, channel]);
    this.subscriptions.set(id, { channel, handler: receive });
    return {
      unsubscribe: async () => {
        if (!this.subscriptions.delete(id)) return;
        await this.request([0, Op.UNSUBSCRIBE, id]).catch(() => undefined);
      },
    };
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.reconnectTimer);
    for (const queue of this.queues.values()) queue.closed = true;
    const link = this.link;
    // Waiting gets are rejected by the server during close; settling them only as close()
    // returns lets a caller who awaits close() before handling the get see no unhandled rejection.
    this.heldErrors = [];
    if (link) {
      // The server requeues our deliveries and rejects our waiters before it replies, so pending
      // gets settle with ConnectionClosedError and accepted puts are confirmed first.
      const goodbye = this.send(link, [0, Op.GOODBYE]);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        goodbye.catch(() => undefined),
        new Promise((resolve) => {
          timer = setTimeout(resolve, GOODBYE_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
      link.socket.end();
      link.socket.destroySoon();
      await link.closed;
    }
    this.failPending(new ConnectionClosedError(`connection to ${this.endpoint.label} is closed`));
    const held = this.heldErrors;
    this.heldErrors = undefined;
    for (const [done, error] of held) done.reject(error);
  }

  /** Send a request and resolve with the server's result. */
  request(message: unknown[]): Promise<unknown> {
    const link = this.link;
    if (this.state !== 'open' || !link) return Promise.reject(this.unavailable());
    return this.send(link, message);
  }

  /** A plain put, batched with the other plain puts to the same handle made during this turn. */
  put(handle: number, payload: Uint8Array): Promise<void> {
    const link = this.link;
    if (this.state !== 'open' || !link) return Promise.reject(this.unavailable());
    let batch = this.putBatches.get(handle);
    if (!batch) {
      batch = { payloads: [], bytes: 0, done: deferred() };
      this.putBatches.set(handle, batch);
      link.outbox.schedule();
    }
    batch.payloads.push(payload);
    batch.bytes += payload.length;
    const done = batch.done.promise as Promise<void>;
    if (batch.payloads.length >= BATCH_MAX_ITEMS || batch.bytes >= BATCH_MAX_BYTES) {
      this.putBatches.delete(handle);
      this.emit(link, [0, Op.PUT_MANY, handle, batch.payloads], batch.done);
    }
    return done;
  }

  /** Ack a delivery, batched per handle and turn. Never rejects: a lost delivery is redelivered anyway. */
  ack(queue: TcpQueue<any>, tag: number, epoch: number): Promise<void> {
    const link = this.link;
    if (epoch !== this.epoch || queue.closed || this.state !== 'open' || !link) return RESOLVED;
    let batch = this.ackBatches.get(queue.handle);
    if (!batch) {
      batch = { tags: [], done: deferred() };
      this.ackBatches.set(queue.handle, batch);
      link.outbox.schedule();
    }
    batch.tags.push(tag);
    const done = batch.done.promise as Promise<void>;
    if (batch.tags.length >= BATCH_MAX_ITEMS) {
      this.ackBatches.delete(queue.handle);
      this.emit(link, [0, Op.ACK, queue.handle, batch.tags], batch.done);
    }
    return done;
  }

  /** Nack a delivery (`undecodable` dead-letters it to `<queue>.dead` without a deadLetter queue). */
  nack(
    queue: TcpQueue<any>,
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

  /** @internal Register a consumer id before its CONSUME request goes out. */
  addConsumer(queue: TcpQueue<any>, handler: DeliveryHandler<any>, prefetch: number): ClientConsumer {
    const consumer: ClientConsumer = { id: ++this.nextConsumerId, queue, handler, prefetch, active: true };
    this.consumers.set(consumer.id, consumer);
    return consumer;
  }

  /** @internal */
  removeConsumer(consumer: ClientConsumer): void {
    consumer.active = false;
    this.consumers.delete(consumer.id);
  }

  /** @internal */
  forgetQueue(queue: TcpQueue<any>): void {
    this.queues.delete(queue.handle);
  }

  private send(link: OpenLink, message: unknown[]): Promise<unknown> {
    // Batches filled earlier in this turn go first, so a later request sees their effect.
    this.flushBatches(link);
    const done = deferred<unknown>();
    this.emit(link, message, done);
    return done.promise;
  }

  private emit(link: OpenLink, message: unknown[], done: Deferred<unknown>): void {
    this.nextRequestId = this.nextRequestId >= 0xffffffff ? 1 : this.nextRequestId + 1;
    message[0] = this.nextRequestId;
    this.pending.set(this.nextRequestId, done);
    link.outbox.push(message);
  }

  private flushBatches(link: OpenLink): void {
    if (this.putBatches.size > 0) {
      for (const [handle, batch] of this.putBatches)
        this.emit(link, [0, Op.PUT_MANY, handle, batch.payloads], batch.done);
      this.putBatches.clear();
    }
    if (this.ackBatches.size > 0) {
      for (const [handle, batch] of this.ackBatches)
        this.emit(link, [0, Op.ACK, handle, batch.tags], batch.done);
      this.ackBatches.clear();
    }
  }

  private attach(link: Link): void {
    const outbox: Outbox = new Outbox(link.socket, () => this.flushBatches(open));
    const closed = new Promise((resolve) => link.socket.once('close', resolve));
    const open: OpenLink = { ...link, outbox, closed };
    this.link = open;
    this.epoch++;
    this.fatal = undefined;
    link.reader.setLimit(link.maxFrameBytes);
    const { socket, reader } = link;
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
      this.onPush(message);
      return;
    }
    const done = this.pending.get(id);
    if (!done) return;
    this.pending.delete(id);
    if (message[1] === Status.OK) done.resolve(message[2]);
    else if (this.heldErrors) this.heldErrors.push([done, errorFromWire(message[2], message[3])]);
    else done.reject(errorFromWire(message[2], message[3]));
  };

  private onPush(message: unknown[]): void {
    switch (message[1]) {
      case Push.DELIVER:
        this.onDeliveries(message);
        break;
      case Push.MESSAGE: {
        const subscription = this.subscriptions.get(asUint(message[2], 'subscription id'));
        const payload = asBytes(message[3], 'message');
        try {
          subscription?.handler(payload);
        } catch {
          // a throwing broadcast handler must not break the connection
        }
        break;
      }
      case Push.FATAL:
        this.fatal = errorFromWire(message[2], message[3]);
        break;
    }
  }

  private onDeliveries(message: unknown[]): void {
    const consumer = this.consumers.get(asUint(message[2], 'consumer id'));
    const tags = asArray(message[3], 'tags');
    const ids = asArray(message[4], 'ids');
    const attempts = asArray(message[5], 'attempts');
    const payloads = asArray(message[6], 'payloads');
    const epoch = this.epoch;
    for (let i = 0; i < tags.length; i++) {
      const tag = asUint(tags[i], 'tag');
      if (!consumer?.active) {
        // Pushed before our cancel reached the server: hand it straight back, never started.
        if (consumer) {
          void this.nack(consumer.queue, tag, epoch, { requeue: true, countAttempt: false }, false);
        }
        continue;
      }
      const delivery = consumer.queue.toDelivery(
        epoch,
        tag,
        asString(ids[i], 'id'),
        asUint(attempts[i], 'attempt'),
        asBytes(payloads[i], 'payload'),
      );
      if (delivery) void runHandler(consumer.handler, delivery);
    }
  }

  private onClose(link: OpenLink): void {
    if (this.link !== link) return;
    this.link = undefined;
    link.outbox.clear();
    const reason = this.fatal ?? new ConnectionClosedError(`connection to ${this.endpoint.label} lost`);
    this.failPending(reason);
    if (this.state !== 'open') return;
    if (this.options.reconnect === false) {
      this.state = 'failed';
      this.failure = reason;
      return;
    }
    this.state = 'reconnecting';
    this.reconnectAttempt = 0;
    this.scheduleReconnect();
  }

  private failPending(reason: Error): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const done of pending) done.reject(reason);
    for (const batch of this.putBatches.values()) batch.done.reject(reason);
    this.putBatches.clear();
    // Unsent acks are moot: the server requeued those deliveries when the socket dropped.
    for (const batch of this.ackBatches.values()) batch.done.resolve(undefined);
    this.ackBatches.clear();
  }

  private scheduleReconnect(): void {
    const cap = this.options.reconnectMaxDelayMs ?? 5000;
    const base = Math.min(cap, INITIAL_RECONNECT_DELAY_MS * 2 ** this.reconnectAttempt++);
    // Full jitter between half and all of the delay, so restarted workers do not stampede.
    const delay = base / 2 + Math.random() * (base / 2);
    this.reconnectTimer = setTimeout(() => void this.reconnect(), delay);
  }

  private async reconnect(): Promise<void> {
    if (this.state !== 'reconnecting') return;
    let link: Link;
    try {
      link = await openLink(this.endpoint, this.key, {
        tls: this.options.tls,
        timeoutMs: this.options.connectTimeoutMs ?? 10_000,
      });
    } catch (error) {
      if (this.state !== 'reconnecting') return;
      if (AuthError.isInstance(error)) {
        // A key mismatch will not fix itself: stop instead of hammering the server.
        this.state = 'failed';
        this.failure = error;
        return;
      }
      this.scheduleReconnect();
      return;
    }
    if (this.state !== 'reconnecting') {
      link.socket.destroy();
      return;
    }
    this.attach(link);
    this.state = 'open';
    this.restore();
  }

  /** Declare every open queue and restart every consumer and subscription on the new socket. */
  private restore(): void {
    const ignore = () => undefined;
    for (const queue of this.queues.values()) {
      this.request([0, Op.DECLARE, queue.handle, queue.name, queue.options]).catch(ignore);
    }
    for (const consumer of this.consumers.values()) {
      if (consumer.active) {
        this.request([0, Op.CONSUME, consumer.queue.handle, consumer.id, consumer.prefetch]).catch(ignore);
      }
    }
    for (const [id, { channel }] of this.subscriptions)
      this.request([0, Op.SUBSCRIBE, id, channel]).catch(ignore);
  }

  private unavailable(): Error {
    switch (this.state) {
      case 'reconnecting':
        return new ConnectionClosedError(`not connected to ${this.endpoint.label} (reconnecting)`);
      case 'failed':
        return this.failure ?? new ConnectionClosedError(`connection to ${this.endpoint.label} failed`);
      default:
        return new ConnectionClosedError(`connection to ${this.endpoint.label} is closed`);
    }
  }
}

/** Queue options without `undefined` values (msgpack would encode them as an extension). */
function definedOptions(options: QueueOptions): QueueOptions {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) if (value !== undefined) out[key] = value;
  return out as QueueOptions;
}

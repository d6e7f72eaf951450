import { randomBytes } from 'node:crypto';
import {
  AuthError,
  BackendError,
  type BroadcastHandler,
  type Codec,
  type Connection,
  ConnectionClosedError,
  type ConnectOptions,
  createCodec,
  type DistributedQueue,
  type MoveOptions,
  type PeekedItem,
  type PeekOptions,
  QueueFullError,
  QueueNotFoundError,
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
  type ResolvedQueueOptions,
  resolvePeekLimit,
  resolveQueueOptions,
  TickBatcher,
  undecodableTarget,
  wrapBackendError,
} from '@taskwire/core/transport';
import {
  AckPolicy,
  connect,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type MsgHdrs,
  type NatsConnection as NatsClient,
  nanos,
  headers as newHeaders,
  type ObjectStore,
  type PubAck,
  RetentionPolicy,
  StorageType,
} from 'nats';
import { type BoundedItem, publishWithRoom } from './bounded.js';
import {
  blobBucket,
  CONSUMER,
  channelSubject,
  DELAY_CONSUMER,
  HEADER,
  type QueueNames,
  queueNameOf,
  queueNames,
} from './names.js';
import { NatsQueue } from './queue.js';
import type { QueueContext, QueueCounts, QueueRoom, Stowed } from './queue-context.js';
import { type NatsConnectOptions, type NatsSettings, parseNatsUrl } from './url.js';

/** JetStream API error codes: stream not found, consumer not found, stream name in use with another config. */
const STREAM_NOT_FOUND = 10059;
const CONSUMER_NOT_FOUND = 10014;
/** Another client created the stream first, with another description (other queue options). */
const STREAM_NAME_IN_USE = 10058;
/**
 * Another client's create of the same stream was in flight on the server: its subjects were taken before its name
 * could be compared (about one race in 300 on nats-server 2.9).
 */
const STREAM_SUBJECTS_OVERLAP = 10065;
/** Room left in a message for headers: a payload larger than the server's max_payload less this is stored apart. */
const HEADER_ROOM = 4096;

/** A stored message read by a direct get. */
interface StoredItem {
  readonly seq: number;
  readonly header: MsgHdrs;
  readonly data: Uint8Array;
}

/** A queue's declaration, as kept in its stream's description. */
interface Declared {
  readonly options: ResolvedQueueOptions;
  readonly names: QueueNames;
  readonly ackWaitMs: number;
}

/**
 * A connection to a NATS server with JetStream: one client connection (which reconnects by itself), the
 * management API for streams and consumers, and core NATS subjects for broadcast.
 */
export class NatsConnection extends ConnectionEvents implements Connection, QueueContext {
  readonly consumer = CONSUMER;
  readonly requestTimeoutMs: number;
  #closed = false;
  #closing: Promise<void> | undefined;
  readonly #queues = new Set<NatsQueue<unknown>>();
  readonly #declared = new Map<string, Promise<Declared>>();
  readonly #idBase = randomBytes(6).toString('base64url');
  #idCount = 0;
  /**
   * Acks of one turn, sent together and confirmed by one PING/PONG: the server handles a client's messages in
   * order, so once the PONG is back every ack before it was processed (a `size()` right after sees the item
   * gone), at the cost of one round trip per turn instead of one reply per ack.
   */
  readonly #acks = new TickBatcher<string>((replies) => {
    for (const reply of replies) this.nc.publish(reply, '+ACK');
    return this.guard(() => this.nc.flush());
  });
  #blobs: Promise<ObjectStore> | undefined;
  #deadline: NodeJS.Timeout | undefined;
  /** Requests waiting for their reply, rejected when the link drops: one written into a dying socket is never answered. */
  readonly #inFlight = new Set<(error: Error) => void>();
  /** Resolved while the link is up; while it is down, resolves once it is back (or never, if it fails). */
  #connected: Promise<void> = Promise.resolve();
  #reconnected: (() => void) | undefined;

  private constructor(
    readonly transport: Transport,
    readonly nc: NatsClient,
    private readonly jsm: JetStreamManager,
    private readonly js: JetStreamClient,
    readonly codec: Codec,
    private readonly settings: NatsSettings,
  ) {
    super();
    this.requestTimeoutMs = settings.requestTimeoutMs;
    void this.#watch();
  }

  /** Connect; rejects with `AuthError` for refused credentials, `BackendError` when unreachable. */
  static async open(
    transport: Transport,
    options: ConnectOptions & NatsConnectOptions,
  ): Promise<NatsConnection> {
    const settings = parseNatsUrl(options.url, options);
    const codec = createCodec({ maxPayloadBytes: options.maxPayloadBytes });
    let nc: NatsClient;
    try {
      nc = await connect({
        servers: settings.server,
        user: settings.user,
        pass: settings.pass,
        name: 'taskwire',
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        reconnectJitter: 250,
        ignoreClusterUpdates: true,
        timeout: settings.requestTimeoutMs,
      });
    } catch (error) {
      throw natsError(error, `nats: connect to ${settings.display}`);
    }
    try {
      const jsm = await nc.jetstreamManager({ timeout: settings.requestTimeoutMs });
      return new NatsConnection(
        transport,
        nc,
        jsm,
        nc.jetstream({ timeout: settings.requestTimeoutMs }),
        codec,
        settings,
      );
    } catch (error) {
      await nc.close().catch(() => undefined);
      throw natsError(error, `nats: JetStream on ${settings.display}`);
    }
  }

  async queue<T = unknown>(name: string, options: QueueOptions = {}): Promise<DistributedQueue<T>> {
    this.check(false, name);
    checkQueueName(name);
    if (options.order === 'lifo' || options.order === 'priority') {
      throw new UnsupportedError(
        `the nats transport cannot serve order "${options.order}": a stream is FIFO`,
      );
    }
    const resolved = resolveQueueOptions(options);
    const declared = await this.#declare(name, resolved, options);
    const queue = new NatsQueue<T>(name, declared.options, declared.names, this, declared.ackWaitMs);
    this.#queues.add(queue as NatsQueue<unknown>);
    return queue;
  }

  async publish<T = unknown>(channel: string, message: T): Promise<void> {
    this.check(false, channel);
    const payload = this.codec.encode(message);
    try {
      this.nc.publish(channelSubject(this.settings.prefix, channel), payload);
    } catch (error) {
      throw natsError(error, `nats: publish on "${channel}"`);
    }
  }

  async subscribe<T = unknown>(channel: string, handler: BroadcastHandler<T>): Promise<Subscription> {
    this.check(false, channel);
    const subscription = this.nc.subscribe(channelSubject(this.settings.prefix, channel), {
      callback: (_error, msg) => {
        let message: T;
        try {
          message = this.codec.decode(msg.data) as T;
        } catch {
          return; // a broadcast nobody can read is dropped: there is no queue to dead-letter it to
        }
        handler(message);
      },
    });
    await this.nc.flush(); // the server knows the interest before subscribe() resolves
    return {
      unsubscribe: async () => {
        subscription.unsubscribe();
      },
    };
  }

  async listQueues(): Promise<string[]> {
    this.check(false, '');
    const names: string[] = [];
    try {
      for await (const stream of this.jsm.streams.names(`${this.settings.prefix}.q.>`)) {
        const name = queueNameOf(this.settings.prefix, stream);
        if (name !== undefined) names.push(name);
      }
    } catch (error) {
      throw natsError(error, 'nats: list queues');
    }
    return names.sort();
  }

  async stats(name: string): Promise<QueueStats> {
    this.check(false, name);
    const declared = await this.#existing(name);
    const counts = await this.counts(declared.names);
    const deadName = undecodableTarget(name, declared.options.deadLetter);
    const dead = await this.counts(queueNames(this.settings.prefix, deadName)).catch((error: unknown) => {
      if (QueueNotFoundError.isInstance(error)) return { ready: 0, delayed: 0 };
      throw error;
    });
    return {
      name,
      ready: counts.ready,
      delayed: counts.delayed,
      inFlight: counts.inFlight,
      consumers: undefined, // pull consumers leave no trace between their pulls
      deadLetter: { name: deadName, size: dead.ready + dead.delayed },
    };
  }

  async peek<T = unknown>(name: string, options: PeekOptions = {}): Promise<PeekedItem<T>[]> {
    this.check(false, name);
    const limit = resolvePeekLimit(options.limit);
    const { names } = await this.#existing(name);
    const items: PeekedItem<T>[] = [];
    for (const message of await this.#waiting(names, limit)) {
      const due = Number(message.header.get(HEADER.due) || 0);
      const blob = message.header.get(HEADER.blob);
      const payload = blob ? await this.readBlob(blob) : message.data;
      let body: T | Uint8Array;
      try {
        body = this.codec.decode(payload) as T;
      } catch {
        body = payload;
      }
      items.push({
        id: message.header.get(HEADER.id) || `${names.stream}#${message.seq}`,
        body,
        attempts: Number(message.header.get(HEADER.prior) || 0),
        state: due ? 'delayed' : 'ready',
        ...(due ? { readyAt: due } : {}),
      });
    }
    return items;
  }

  async moveItems(from: string, to: string, options: MoveOptions = {}): Promise<number> {
    this.check(false, from);
    const source = await this.#existing(from);
    const target = await this.#existing(to);
    const ids = options.ids ? new Set(options.ids) : undefined;
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    let moved = 0;
    for (const message of await this.#waiting(source.names, Number.POSITIVE_INFINITY)) {
      if (moved >= limit) break;
      const id = message.header.get(HEADER.id) || `${source.names.stream}#${message.seq}`;
      if (ids && !ids.has(id)) continue;
      const headers = newHeaders();
      headers.set(HEADER.id, id);
      const blob = message.header.get(HEADER.blob);
      if (blob) headers.set(HEADER.blob, blob);
      try {
        if (!(await this.#moveInto(to, target, message.data, headers))) break;
        await this.guard(() => this.jsm.streams.deleteMessage(source.names.stream, message.seq, false));
      } catch (error) {
        throw natsError(error, `nats: move from "${from}" to "${to}"`);
      }
      moved++;
    }
    return moved;
  }

  async purgeQueue(name: string): Promise<number> {
    this.check(false, name);
    const { names } = await this.#existing(name);
    return this.purge(name, names);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.allSettled([...this.#queues].map((queue) => queue.close()));
      this.#closed = true;
      clearTimeout(this.#deadline);
      await this.nc.drain().catch(() => this.nc.close());
    })();
    return this.#closing;
  }

  // --- QueueContext ---

  closed(): Promise<void> {
    return this.#closing ?? Promise.resolve();
  }

  async guard<T>(send: () => Promise<T>): Promise<T> {
    // The client loses what is sent while it has no link: wait for it to come back first.
    await this.#connected;
    return new Promise<T>((resolve, reject) => {
      this.#inFlight.add(reject);
      send().then(
        (value) => {
          this.#inFlight.delete(reject);
          resolve(value);
        },
        (error: unknown) => {
          this.#inFlight.delete(reject);
          reject(error);
        },
      );
    });
  }

  ack(reply: string): Promise<void> {
    const sent = this.#acks.nextFlush();
    this.#acks.add(reply);
    return sent;
  }

  /** A fresh key for a payload stored apart. */
  newId(): string {
    return `${this.#idBase}${(this.#idCount++).toString(36)}`;
  }

  async publishItem(subject: string, payload: Uint8Array, headers?: MsgHdrs): Promise<PubAck> {
    const stowed = await this.stow(payload, headers);
    return this.publishStowed(subject, stowed.payload, stowed.headers);
  }

  async stow(payload: Uint8Array, headers?: MsgHdrs): Promise<Stowed> {
    if (payload.length <= this.nc.info!.max_payload - HEADER_ROOM) return { payload, headers };
    const key = this.newId();
    await (await this.#blobStore()).putBlob({ name: key }, payload);
    headers ??= newHeaders();
    headers.set(HEADER.blob, key);
    return { payload: new Uint8Array(0), headers };
  }

  publishStowed(
    subject: string,
    payload: Uint8Array,
    headers: MsgHdrs | undefined,
    expectLastSequence?: number,
  ): Promise<PubAck> {
    const expect = expectLastSequence === undefined ? undefined : { lastSequence: expectLastSequence };
    return this.guard(() =>
      this.js.publish(subject, payload, { headers, expect, timeout: this.requestTimeoutMs }),
    );
  }

  async readBlob(key: string): Promise<Uint8Array> {
    return (await (await this.#blobStore()).getBlob(key)) ?? new Uint8Array(0);
  }

  deleteBlob(key: string): void {
    void this.#blobStore()
      .then((store) => store.delete(key))
      .catch(() => undefined);
  }

  async declareTarget(name: string): Promise<QueueNames> {
    return (await this.#declare(name, resolveQueueOptions(), {})).names;
  }

  async counts(names: QueueNames): Promise<QueueCounts> {
    try {
      const [consumer, delayed] = await this.guard(() =>
        Promise.all([this.jsm.consumers.info(names.stream, CONSUMER), this.#delayed(names)]),
      );
      return { ready: consumer.num_pending, delayed: delayed.count, inFlight: consumer.num_ack_pending };
    } catch (error) {
      throw notFound(error, names) ?? natsError(error, `nats: count "${names.stream}"`);
    }
  }

  async room(names: QueueNames): Promise<QueueRoom> {
    try {
      // In this order: a publish after the sequence read is refused, so nothing the count misses gets past.
      const delayed = await this.guard(() => this.#delayed(names));
      const consumer = await this.guard(() => this.jsm.consumers.info(names.stream, CONSUMER));
      return { lastSeq: delayed.lastSeq, waiting: consumer.num_pending + delayed.count };
    } catch (error) {
      throw notFound(error, names) ?? natsError(error, `nats: count "${names.stream}"`);
    }
  }

  purge(name: string, names = queueNames(this.settings.prefix, name)): Promise<number> {
    return this.guard(() => this.#purge(name, names));
  }

  async #purge(name: string, names: QueueNames): Promise<number> {
    try {
      const consumer = await this.jsm.consumers.info(names.stream, CONSUMER);
      let removed = 0;
      if (consumer.num_ack_pending === 0) {
        removed += (await this.jsm.streams.purge(names.stream, { filter: names.subject })).purged;
      } else {
        // Held deliveries stay: only the never-delivered messages past the consumer's position go.
        const waiting = await this.#ready(names, Number.POSITIVE_INFINITY);
        await Promise.all(waiting.map((m) => this.jsm.streams.deleteMessage(names.stream, m.seq, false)));
        removed += waiting.length;
      }
      removed += (await this.jsm.streams.purge(names.stream, { filter: names.delaySubject })).purged;
      return removed;
    } catch (error) {
      throw notFound(error, names) ?? natsError(error, `nats: purge "${name}"`);
    }
  }

  async drop(name: string): Promise<void> {
    const names = queueNames(this.settings.prefix, name);
    this.#declared.delete(name);
    await this.guard(() => this.jsm.streams.delete(names.stream)).catch((error: unknown) => {
      if (apiCode(error) !== STREAM_NOT_FOUND) throw natsError(error, `nats: delete "${name}"`);
    });
  }

  check(closed: boolean, name: string): void {
    const failure = this.terminalFailure;
    if (failure) throw failure;
    if (this.#closed || closed) throw new ConnectionClosedError(`nats: queue "${name}" is closed`);
  }

  // --- internals ---

  /** Create the queue's streams and consumers, or check the existing ones against `given`. */
  #declare(name: string, resolved: ResolvedQueueOptions, given: QueueOptions): Promise<Declared> {
    const cached = this.#declared.get(name);
    if (cached)
      return cached.then((declared) => ({
        ...declared,
        options: checkRedeclaration(name, declared.options, given),
      }));
    const declaring = this.guard(() => this.#create(name, resolved, given));
    this.#declared.set(name, declaring);
    declaring.catch(() => this.#declared.delete(name));
    return declaring;
  }

  async #create(name: string, resolved: ResolvedQueueOptions, given: QueueOptions): Promise<Declared> {
    const names = queueNames(this.settings.prefix, name);
    try {
      const options = await this.#stream(name, names, resolved, given);
      const ackWaitMs = options.visibilityTimeoutMs || this.settings.ackWaitMs;
      const consumer = await this.#consumer(names.stream, CONSUMER, names.subject, ackWaitMs);
      await this.#consumer(names.stream, DELAY_CONSUMER, names.delaySubject, this.settings.ackWaitMs);
      return { options, names, ackWaitMs: consumer };
    } catch (error) {
      throw natsError(error, `nats: declare "${name}"`);
    }
  }

  /**
   * Create the queue's stream, or read the options of the one that exists. A create that loses the race to another
   * client's (a worker starting with its master) reads the winner's stream, as if it had existed before.
   */
  async #stream(
    name: string,
    names: QueueNames,
    resolved: ResolvedQueueOptions,
    given: QueueOptions,
  ): Promise<ResolvedQueueOptions> {
    const existing = await this.#streamInfo(names);
    if (existing) return checkRedeclaration(name, existing, given);
    try {
      await this.jsm.streams.add(streamConfig(names, describe(name, resolved)));
      return resolved;
    } catch (error) {
      const code = apiCode(error);
      if (code !== STREAM_NAME_IN_USE && code !== STREAM_SUBJECTS_OVERLAP) throw error;
      const winner = await this.#streamInfo(names);
      if (!winner) throw error;
      return checkRedeclaration(name, winner, given);
    }
  }

  /** The options stored with the queue's stream, or undefined when there is no stream. */
  async #streamInfo(names: QueueNames): Promise<ResolvedQueueOptions | undefined> {
    const info = await this.jsm.streams.info(names.stream).catch((error: unknown) => {
      if (apiCode(error) === STREAM_NOT_FOUND) return undefined;
      throw error;
    });
    return info && readDescription(info.config.description);
  }

  /** The shared durable consumer `name` of `stream`'s `subject` (created when missing); resolves with its ack wait in ms. */
  async #consumer(stream: string, name: string, subject: string, ackWaitMs: number): Promise<number> {
    const info = await this.jsm.consumers.info(stream, name).catch(async (error: unknown) => {
      if (apiCode(error) !== CONSUMER_NOT_FOUND) throw error;
      return this.jsm.consumers.add(stream, {
        durable_name: name,
        filter_subject: subject,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(ackWaitMs),
        max_ack_pending: -1,
        max_waiting: 4096,
      });
    });
    return (info.config.ack_wait ?? nanos(ackWaitMs)) / 1e6;
  }

  async #existing(name: string): Promise<Declared> {
    const names = queueNames(this.settings.prefix, name);
    try {
      const info = await this.guard(() => this.jsm.streams.info(names.stream));
      const options = readDescription(info.config.description);
      return { options, names, ackWaitMs: options.visibilityTimeoutMs || this.settings.ackWaitMs };
    } catch (error) {
      throw notFound(error, names) ?? natsError(error, `nats: find "${name}"`);
    }
  }

  /** Up to `limit` waiting items: ready ones in stream order, then delayed ones soonest first. */
  async #waiting(names: QueueNames, limit: number): Promise<StoredItem[]> {
    const ready = await this.#ready(names, limit);
    if (ready.length >= limit) return ready;
    const delayed = await this.#scan(names.stream, names.delaySubject, 1, Number.POSITIVE_INFINITY);
    delayed.sort((a, b) => Number(a.header.get(HEADER.due)) - Number(b.header.get(HEADER.due)));
    return [...ready, ...delayed.slice(0, limit - ready.length)];
  }

  /** The never-delivered messages of a queue: those past its consumer's position. */
  async #ready(names: QueueNames, limit: number): Promise<StoredItem[]> {
    const consumer = await this.guard(() => this.jsm.consumers.info(names.stream, CONSUMER));
    return this.#scan(names.stream, names.subject, consumer.delivered.stream_seq + 1, limit);
  }

  async #scan(stream: string, subject: string, from: number, limit: number): Promise<StoredItem[]> {
    const found: StoredItem[] = [];
    let seq = from;
    while (found.length < limit) {
      const message = await this.#directGet(stream, subject, seq);
      if (!message) break;
      found.push(message);
      seq = message.seq + 1;
    }
    return found;
  }

  /** The first message of `subject` at or after `seq`, read without a consumer (a direct get), if any. */
  async #directGet(stream: string, subject: string, seq: number): Promise<StoredItem | undefined> {
    const reply = await this.guard(() =>
      this.nc.request(`$JS.API.DIRECT.GET.${stream}`, JSON.stringify({ seq, next_by_subj: subject }), {
        timeout: this.requestTimeoutMs,
      }),
    );
    const status = reply.headers?.code ?? 0;
    if (status === 404) return undefined;
    if (status >= 400 || !reply.headers)
      throw new BackendError(`nats: direct get on "${stream}" failed: ${status}`);
    return { seq: Number(reply.headers.get('Nats-Sequence')), header: reply.headers, data: reply.data };
  }

  /** The stream's last sequence and its delayed items (the messages on the delay subject), from one stream info. */
  async #delayed(names: QueueNames): Promise<{ lastSeq: number; count: number }> {
    const info = await this.jsm.streams.info(names.stream, { subjects_filter: names.delaySubject });
    return { lastSeq: info.state.last_seq, count: info.state.subjects?.[names.delaySubject] ?? 0 };
  }

  /** Publish a moved item to `target`; false when a bounded target has no room for it (nothing published). */
  async #moveInto(name: string, target: Declared, data: Uint8Array, headers: MsgHdrs): Promise<boolean> {
    if (!target.options.maxsize) {
      await this.publishItem(target.names.subject, data, headers);
      return true;
    }
    const item: BoundedItem = { subject: target.names.subject, payload: data, headers };
    const queue = { name, names: target.names, maxsize: target.options.maxsize };
    try {
      await publishWithRoom(this, queue, { items: [item], stored: 0 }, Date.now(), () =>
        this.check(false, name),
      );
      return true;
    } catch (error) {
      if (QueueFullError.isInstance(error)) return false;
      throw error;
    }
  }

  #blobStore(): Promise<ObjectStore> {
    this.#blobs ??= this.js.views.os(blobBucket(this.settings.prefix), { storage: StorageType.File });
    this.#blobs.catch(() => {
      this.#blobs = undefined;
    });
    return this.#blobs;
  }

  /** Follow the client's status: a drop gives up held deliveries; no connection for too long is terminal. */
  async #watch(): Promise<void> {
    void this.nc.closed().then((error) => {
      if (!this.#closed && error)
        this.#fail(natsError(error, `nats: connection to ${this.settings.display}`));
    });
    for await (const status of this.nc.status()) {
      if (status.type === 'disconnect') {
        const dropped = new BackendError(`nats: the link to ${this.settings.display} dropped`, {
          retryable: true,
        });
        for (const reject of this.#inFlight) reject(dropped);
        this.#inFlight.clear();
        for (const queue of this.#queues) queue.abandon();
        if (!this.#reconnected) {
          this.#connected = new Promise((resolve) => {
            this.#reconnected = resolve;
          });
        }
        this.#deadline ??= setTimeout(
          () =>
            this.#fail(
              new BackendError(
                `gave up reconnecting to NATS at ${this.settings.display} after ${this.settings.reconnectDeadlineMs} ms (reconnectDeadlineMs)`,
                { retryable: false },
              ),
            ),
          this.settings.reconnectDeadlineMs,
        );
      } else if (status.type === 'reconnect') {
        this.#reconnected?.();
        this.#reconnected = undefined;
        // Pulls sent while the link was down were lost: ask again now.
        for (const queue of this.#queues) queue.repull();
        clearTimeout(this.#deadline);
        this.#deadline = undefined;
      }
    }
  }

  #fail(error: Error): void {
    if (this.#closed || !this.reportFailure(error)) return;
    clearTimeout(this.#deadline);
    for (const queue of this.#queues) queue.shutDown();
    void this.nc.close().catch(() => undefined);
  }
}

function streamConfig(names: QueueNames, description: string) {
  return {
    name: names.stream,
    subjects: [names.subject, names.delaySubject],
    description,
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    allow_direct: true, // peek reads with direct gets
  };
}

function describe(name: string, options: ResolvedQueueOptions): string {
  return JSON.stringify({
    taskwire: name,
    visibilityTimeoutMs: options.visibilityTimeoutMs,
    deadLetter: options.deadLetter,
    maxsize: options.maxsize,
  });
}

function readDescription(description: string | undefined): ResolvedQueueOptions {
  let parsed: { visibilityTimeoutMs?: number; deadLetter?: string; maxsize?: number } = {};
  try {
    parsed = JSON.parse(description ?? '{}');
  } catch {
    // a stream someone else made under our prefix: defaults
  }
  return resolveQueueOptions({
    visibilityTimeoutMs: parsed.visibilityTimeoutMs,
    deadLetter: parsed.deadLetter,
    maxsize: parsed.maxsize,
  });
}

function apiCode(error: unknown): number | undefined {
  return (error as { api_error?: { err_code?: number } })?.api_error?.err_code;
}

function notFound(error: unknown, names: QueueNames): QueueNotFoundError | undefined {
  const code = apiCode(error);
  if (code !== STREAM_NOT_FOUND && code !== CONSUMER_NOT_FOUND) return undefined;
  return new QueueNotFoundError(`nats: no queue with stream "${names.stream}"`);
}

/** A client error as a taskwire error: refused credentials are an `AuthError`. */
function natsError(error: unknown, what: string): Error {
  const code = (error as { code?: unknown })?.code;
  if (code === 'AUTHORIZATION_VIOLATION' || code === 'AUTHENTICATION_EXPIRED') {
    return new AuthError(`${what} failed: ${(error as Error).message}`, { cause: error });
  }
  const retryable =
    code === 'TIMEOUT' || code === '503' || code === 'CONNECTION_REFUSED' || code === 'DISCONNECT';
  return wrapBackendError(error, what, { retryable });
}

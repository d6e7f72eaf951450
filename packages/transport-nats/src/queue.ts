import {
  type ConsumeOptions,
  type ConsumerHandle,
  checkOptionalDuration,
  type Delivery,
  type DeliveryHandler,
  type DistributedQueue,
  type GetOptions,
  type NackOptions,
  type PutOptions,
  QueueEmptyError,
  QueueFullError,
} from '@taskwire/core';
import {
  checkPutOptions,
  decodeOrDeadLetter,
  type ResolvedQueueOptions,
  resolvePrefetch,
  runHandler,
  UNDECODABLE,
  undecodableTarget,
  wrapBackendError,
} from '@taskwire/core/transport';
import { type Msg, type MsgHdrs, headers as newHeaders } from 'nats';
import { type BoundedItem, type KnownRoom, publishWithRoom } from './bounded.js';
import { type DeliveryOwner, NatsDelivery } from './delivery.js';
import { DELAY_CONSUMER, HEADER, type QueueNames } from './names.js';
import { deliveryInfo, type OpenPull, Puller } from './puller.js';
import type { QueueContext } from './queue-context.js';

/** Longest single pull: a waiting get or consumer asks again this often (and after a reconnect at once). */
const PULL_MS = 5000;
/** Most publishes of one `putMany` waiting for their PubAck at once (a huge batch must not time out on a busy server). */
const PUT_WINDOW = 1024;
/** Delayed items a mover takes per pull. */
const MOVER_BATCH = 256;
/** The longest delay a Node timer takes. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * One handle of a queue: its work-queue stream and the durable pull consumer all handles share, plus the delay
 * stream whose due items its mover publishes back. Every return goes to the back: an item given back (a nack, a
 * close, a lost holder's item the server redelivers) is published again carrying its deliveries so far in
 * `Tw-Prior`, then the old copy is acked.
 */
export class NatsQueue<T> implements DistributedQueue<T>, DeliveryOwner {
  #closed = false;
  readonly #held = new Set<NatsDelivery<unknown>>();
  readonly #puller: Puller;
  readonly #consumers = new Set<PullConsumer>();
  readonly #pendingPuts = new Set<Promise<unknown>>();
  /**
   * Settles once this handle's last bounded put is over: they go one at a time, since concurrent ones would refuse
   * each other's expected sequence (each conflict costing every loser a count again).
   */
  #boundedLine: Promise<void> = Promise.resolve();
  /** What the last bounded put learned: the next one publishes at once if nothing else reached the stream since. */
  readonly #room: { known?: KnownRoom } = {};
  #mover: DelayMover | undefined;
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(
    readonly name: string,
    readonly options: ResolvedQueueOptions,
    private readonly names: QueueNames,
    private readonly context: QueueContext,
    /** The consumer's ack wait: the visibility timeout, or the holder's heartbeat period ×3 without one. */
    ackWaitMs: number,
  ) {
    this.#puller = new Puller(context.nc, names.stream, context.consumer, (msg) => this.#giveBack(msg));
    // Without a visibility timeout, a delivery is held while its holder lives: in-progress acks keep it.
    if (options.visibilityTimeoutMs === 0) {
      this.#heartbeat = setInterval(() => this.#keepHeld(), ackWaitMs / 3);
      this.#heartbeat.unref();
    }
  }

  put(item: T, options: PutOptions = {}): Promise<void> {
    return this.putMany([item], options);
  }

  async putMany(items: Iterable<T>, options: PutOptions = {}): Promise<void> {
    this.#check();
    checkPutOptions(options);
    const { codec } = this.context;
    const payloads = Array.from(items, (item) => codec.encode(item));
    const due = options.delayMs ? Date.now() + options.delayMs : 0;
    const sent = this.options.maxsize
      ? this.#putBounded(payloads, due, options.timeoutMs)
      : inWindows(payloads, PUT_WINDOW, (payload) => {
          const { subject, headers } = this.#putMessage(due);
          return this.context.publishItem(subject, payload, headers);
        });
    this.#pendingPuts.add(sent);
    try {
      await sent;
    } catch (error) {
      throw wrapBackendError(error, `nats: put to "${this.name}"`);
    } finally {
      this.#pendingPuts.delete(sent);
    }
  }

  /** A ready item carries no header: its id is its first stream sequence, kept in `Tw-Id` when it is published again. */
  #putMessage(due: number): { subject: string; headers: MsgHdrs | undefined } {
    if (!due) return { subject: this.names.subject, headers: undefined };
    const headers = newHeaders();
    headers.set(HEADER.due, String(due));
    return { subject: this.names.delaySubject, headers };
  }

  /**
   * Puts to a bounded queue go one by one, each once there is room (see {@link publishWithRoom}); a put still
   * without room after `timeoutMs` rejects with `QueueFullError`, the items stored before it stay.
   */
  async #putBounded(payloads: Uint8Array[], due: number, timeoutMs: number | undefined): Promise<void> {
    const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
    const items: BoundedItem[] = [];
    for (const payload of payloads) {
      const { subject, headers } = this.#putMessage(due);
      items.push({ subject, ...(await this.context.stow(payload, headers)) });
    }
    const put = { items, stored: 0 };
    const before = this.#boundedLine;
    let done!: () => void;
    this.#boundedLine = new Promise((resolve) => {
      done = resolve;
    });
    try {
      // Past its deadline a put waits no more for the ones before it: it looks for room once, beside them.
      await untilDeadline(before, deadline);
      const queue = { name: this.name, names: this.names, maxsize: this.options.maxsize };
      await publishWithRoom(this.context, queue, put, deadline, () => this.#check(), this.#room);
    } catch (error) {
      // Payloads stored apart for items that never got in go with them. After a failed publish (a lost link) its
      // item may be stored all the same: its payload stays.
      const unsent = QueueFullError.isInstance(error) ? put.stored : put.stored + 1;
      for (const item of items.slice(unsent)) {
        const blob = item.headers?.get(HEADER.blob);
        if (blob) this.context.deleteBlob(blob);
      }
      throw error;
    } finally {
      void before.then(done);
    }
  }

  async get(options: GetOptions = {}): Promise<Delivery<T>> {
    this.#check();
    checkOptionalDuration(options.timeoutMs, 'timeoutMs');
    this.#startMover();
    const deadline =
      options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeoutMs;
    let first = true;
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0 && !first) break;
      first = false;
      let taken: Promise<NatsDelivery<T> | undefined> | undefined;
      const pull = this.#puller.pull(1, Math.min(Math.max(remaining, 0), PULL_MS), (msg) => {
        taken = this.#take(msg);
      });
      await pull.done;
      // A get a closing connection ends rejects once the close is over, as the caller of close() expects.
      if (this.#closed) await this.context.closed();
      this.#check();
      const delivery = await taken;
      if (delivery) return delivery;
    }
    throw new QueueEmptyError(`queue "${this.name}" is empty`);
  }

  async consume(handler: DeliveryHandler<T>, options: ConsumeOptions = {}): Promise<ConsumerHandle> {
    this.#check();
    const prefetch = resolvePrefetch(options.prefetch);
    this.#startMover();
    const consumer = new PullConsumer(this.#puller, prefetch, (msg, release) => {
      void this.#take(msg).then((delivery) => {
        if (!delivery) return release();
        delivery.onRelease = release;
        return runHandler(handler, delivery);
      });
    });
    this.#consumers.add(consumer);
    consumer.pump();
    return {
      cancel: async () => {
        consumer.cancel();
        this.#consumers.delete(consumer);
      },
    };
  }

  async size(): Promise<number> {
    this.#check();
    const stats = await this.context.counts(this.names);
    return stats.ready + stats.delayed;
  }

  purge(): Promise<number> {
    this.#check();
    return this.context.purge(this.name);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopTaking();
    await Promise.allSettled([...this.#pendingPuts]);
    // A closed handle's deliveries go back behind the waiting items, this delivery counted.
    await Promise.allSettled(
      [...this.#held].map((delivery) => delivery.nack({ requeue: true }).catch(() => undefined)),
    );
    this.#puller.close();
  }

  async delete(): Promise<void> {
    await this.close();
    await this.context.drop(this.name);
  }

  /** The link dropped: held deliveries are given up on (the server redelivers them), pulls asked again. */
  abandon(): void {
    for (const delivery of [...this.#held]) delivery.forget();
    this.repull();
  }

  /** End the open pulls here, so that their loops ask again (after a reconnect: the old requests were lost). */
  repull(): void {
    this.#puller.stopAll();
    this.#mover?.repull();
  }

  /** The connection is closing or failed: stop without giving anything back (the server redelivers). */
  shutDown(): void {
    this.#closed = true;
    this.#stopTaking();
    this.#puller.close();
  }

  ack(delivery: NatsDelivery<unknown>): Promise<void> {
    return this.#ackMsg(delivery.msg);
  }

  async nack(delivery: NatsDelivery<unknown>, options: NackOptions): Promise<void> {
    const { requeue = true, delayMs = 0, countAttempt = true } = options;
    try {
      if (!requeue) {
        if (this.options.deadLetter !== undefined)
          await this.#forward(delivery.msg, this.options.deadLetter, 0);
        return await this.#ackMsg(delivery.msg);
      }
      const prior = countAttempt ? delivery.attempt : delivery.attempt - 1;
      await this.#republish(
        delivery.msg,
        delayMs > 0 ? this.names.delaySubject : this.names.subject,
        prior,
        delayMs,
      );
      await this.#ackMsg(delivery.msg, false);
    } catch (error) {
      throw wrapBackendError(error, `nats: nack on "${this.name}"`);
    }
  }

  release(delivery: NatsDelivery<unknown>): void {
    this.#held.delete(delivery);
  }

  /** Turn a delivered message into a delivery, or deal with it and return undefined (a lost copy, bad bytes). */
  async #take(msg: Msg): Promise<NatsDelivery<T> | undefined> {
    const { delivered } = deliveryInfo(msg);
    const prior = priorOf(msg);
    if (delivered > 1 || this.#closed) {
      // Delivered before and never settled (its holder was lost or its visibility timeout passed), or taken by a
      // handle that closed meanwhile: behind the waiting items, the lost deliveries counted.
      this.#giveBack(msg);
      return undefined;
    }
    const blob = msg.headers?.get(HEADER.blob);
    const payload = blob ? await this.context.readBlob(blob) : msg.data;
    const body = decodeOrDeadLetter(this.context.codec, payload, this.#deadLetterUndecodable, msg);
    if (body === UNDECODABLE) return undefined;
    const id = msg.headers?.get(HEADER.id) || `${this.names.stream}#${deliveryInfo(msg).seq}`;
    const delivery = new NatsDelivery<T>(this, msg, id, body as T, prior + 1);
    this.#held.add(delivery);
    return delivery;
  }

  readonly #deadLetterUndecodable = (msg: Msg): Promise<void> =>
    this.#forward(msg, undecodableTarget(this.name, this.options.deadLetter), 0).then(() =>
      this.#ackMsg(msg, false),
    );

  /** Give a held message back behind the waiting ones: counted as the deliveries the server made of it, less this one. */
  #giveBack(msg: Msg): void {
    const prior = priorOf(msg) + deliveryInfo(msg).delivered - 1;
    this.#republish(msg, this.names.subject, prior, 0)
      .then(() => this.#ackMsg(msg, false))
      .catch(() => undefined); // unacked, it comes back after the ack wait
  }

  /** Publish a copy of `msg` on `subject` with its id and blob, `prior` deliveries, due after `delayMs`. */
  #republish(msg: Msg, subject: string, prior: number, delayMs: number): Promise<unknown> {
    const headers = newHeaders();
    headers.set(HEADER.id, msg.headers?.get(HEADER.id) || `${this.names.stream}#${deliveryInfo(msg).seq}`);
    if (prior > 0) headers.set(HEADER.prior, String(prior));
    if (delayMs > 0) headers.set(HEADER.due, String(Date.now() + delayMs));
    copyBlob(msg.headers, headers);
    return this.context.publishItem(subject, msg.data, headers);
  }

  /** Publish `msg` to queue `target` as a fresh item (declared first, as a dead-letter queue must exist). */
  async #forward(msg: Msg, target: string, prior: number): Promise<void> {
    const names = await this.context.declareTarget(target);
    const headers = newHeaders();
    headers.set(HEADER.id, msg.headers?.get(HEADER.id) || `${this.names.stream}#${deliveryInfo(msg).seq}`);
    if (prior > 0) headers.set(HEADER.prior, String(prior));
    copyBlob(msg.headers, headers);
    await this.context.publishItem(names.subject, msg.data, headers);
  }

  /** Ack `msg`, confirmed by the server (so a `size()` right after sees it gone); its blob goes with a final ack. */
  async #ackMsg(msg: Msg, final = true): Promise<void> {
    try {
      await this.context.ack(msg.reply ?? '');
    } catch (error) {
      throw wrapBackendError(error, `nats: ack on "${this.name}"`);
    }
    const blob = final ? msg.headers?.get(HEADER.blob) : undefined;
    if (blob) this.context.deleteBlob(blob);
  }

  #keepHeld(): void {
    for (const delivery of this.#held) {
      try {
        this.context.nc.publish(delivery.msg.reply ?? '', '+WPI');
      } catch {
        return; // closed: the deliveries come back by the ack wait
      }
    }
  }

  #startMover(): void {
    if (this.#mover || this.#closed) return;
    this.#mover = new DelayMover(this.context, this.names);
  }

  #stopTaking(): void {
    clearInterval(this.#heartbeat);
    this.#mover?.stop();
    for (const consumer of this.#consumers) consumer.cancel();
    this.#consumers.clear();
    this.#puller.stopAll();
  }

  #check(): void {
    this.context.check(this.#closed, this.name);
  }
}

/**
 * A `consume()`'s pulls: as many messages asked for as it has free prefetch slots, in pulls of at least a quarter
 * of the window, so it holds at most `prefetch` deliveries and takes them in few round trips.
 */
class PullConsumer {
  #active = true;
  #outstanding = 0;
  #requested = 0;
  readonly #minPull: number;
  #retry: NodeJS.Timeout | undefined;
  readonly #pulls = new Set<OpenPull>();

  constructor(
    private readonly puller: Puller,
    private readonly prefetch: number,
    private readonly onMessage: (msg: Msg, release: () => void) => void,
  ) {
    this.#minPull = Math.max(1, Math.ceil(prefetch / 4));
  }

  pump = (): void => {
    while (this.#active) {
      const free = this.prefetch - this.#outstanding - this.#requested;
      if (free <= 0 || (free < this.#minPull && this.#requested > 0)) return;
      this.#requested += free;
      const startedAt = Date.now();
      const pull = this.puller.pull(free, PULL_MS, (msg) => {
        this.#requested--;
        this.#outstanding++;
        let released = false;
        this.onMessage(msg, () => {
          if (released) return;
          released = true;
          this.#outstanding--;
          this.pump();
        });
      });
      this.#pulls.add(pull);
      void pull.done.then((received) => {
        this.#pulls.delete(pull);
        this.#requested -= free - received;
        // A pull that ended at once with nothing (a dropped link) is asked again after a pause, not in a spin.
        if (received === 0 && Date.now() - startedAt < PULL_MS / 2) {
          clearTimeout(this.#retry);
          this.#retry = setTimeout(this.pump, 250);
        } else this.pump();
      });
    }
  };

  /** Stop pulling; what the server still sends for the open pulls is given back. */
  cancel(): void {
    this.#active = false;
    clearTimeout(this.#retry);
    for (const pull of [...this.#pulls]) pull.stop();
  }
}

/**
 * Moves a queue's delayed items back once due. A delayed item waits on the delay subject; a mover that receives it
 * early naks it with the time left (JetStream 2.9 has no scheduled messages, but it redelivers a nak with delay
 * on time), and publishes it to the queue once due, then acks it.
 */
class DelayMover {
  #active = true;
  readonly #puller: Puller;
  #pull: OpenPull | undefined;

  constructor(
    private readonly context: QueueContext,
    private readonly names: QueueNames,
  ) {
    this.#puller = new Puller(context.nc, names.stream, DELAY_CONSUMER, (msg) => this.#nak(msg, 0));
    void this.#loop();
  }

  stop(): void {
    this.#active = false;
    this.#puller.close();
  }

  repull(): void {
    this.#puller.stopAll();
  }

  async #loop(): Promise<void> {
    while (this.#active) {
      const startedAt = Date.now();
      this.#pull = this.#puller.pull(MOVER_BATCH, PULL_MS, (msg) => this.#handle(msg));
      const received = await this.#pull.done;
      if (received === 0 && Date.now() - startedAt < PULL_MS / 2 && this.#active) await pause(250);
    }
  }

  #handle(msg: Msg): void {
    const due = Number(msg.headers?.get(HEADER.due) || 0);
    const wait = due - Date.now();
    if (wait > 1) {
      this.#nak(msg, wait);
      return;
    }
    const headers = newHeaders();
    for (const key of [HEADER.id, HEADER.prior, HEADER.blob]) {
      const value = msg.headers?.get(key);
      if (value) headers.set(key, value);
    }
    this.context
      .publishItem(this.names.subject, msg.data, headers)
      .then(() => this.context.ack(msg.reply ?? ''))
      .catch(() => this.#nak(msg, 500));
  }

  #nak(msg: Msg, delayMs: number): void {
    try {
      this.context.nc.publish(
        msg.reply ?? '',
        delayMs > 0 ? `-NAK {"delay":${Math.round(delayMs * 1e6)}}` : '-NAK',
      );
    } catch {
      // closed: the ack wait gives it back
    }
  }
}

function priorOf(msg: Msg): number {
  return Number(msg.headers?.get(HEADER.prior) || 0);
}

function copyBlob(from: MsgHdrs | undefined, to: MsgHdrs): void {
  const blob = from?.get(HEADER.blob);
  if (blob) to.set(HEADER.blob, blob);
}

/** Send `items` in windows of `size`, each window's publishes together. */
async function inWindows<T>(items: T[], size: number, send: (item: T) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < items.length; start += size) {
    await Promise.all(items.slice(start, start + size).map(send));
  }
}

/** Wait for `line` to settle, or for `deadline` (epoch ms) to pass if sooner. */
async function untilDeadline(line: Promise<void>, deadline: number): Promise<void> {
  const remaining = deadline - Date.now();
  if (remaining > MAX_TIMER_MS) return line; // a timer this long would overflow: as good as no deadline
  let timer: NodeJS.Timeout | undefined;
  const passed = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(remaining, 0));
  });
  await Promise.race([line, passed]);
  clearTimeout(timer);
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

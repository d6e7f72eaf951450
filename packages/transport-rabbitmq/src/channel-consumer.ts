import { type ConsumerHandle, QueueNotFoundError } from '@taskwire/core';
import { backoffDelay } from '@taskwire/core/transport';
import type { Message } from 'amqplib';
import { Holder } from './holder.js';
import type { ReconnectingConnection } from './reconnecting-connection.js';

// After the consumer's channel closes while the connection stays up (e.g. a channel error), wait
// about this long before subscribing again, backing off while it keeps failing.
const RESUBSCRIBE_BACKOFF = { baseMs: 1000, maxMs: 30_000 };
// After a subscription on a fresh connection failed (the broker dropped it again, or is not serving yet).
const RESUBSCRIBE_AFTER_RECONNECT_BACKOFF = { baseMs: 100, maxMs: 5000 };
const NOT_FOUND = 404;

/**
 * A `basic.consume` on its own channel with its own prefetch. It subscribes once per connection:
 * after a reconnect the connection calls it once, and an old channel's close never adds a second
 * subscription (the duplicate-consumer failure of some AMQP wrappers).
 *
 * A cancel the broker starts (the queue was deleted) does not end it at once: it closes that channel and
 * subscribes again with backoff, so it resumes as soon as the queue exists again. It does not declare
 * the queue itself: whoever deleted it may have meant it, and the master declares the task queue when
 * it starts. With `failWhenMissing`, a queue still missing after the connection's `reconnectDeadlineMs` fails the
 * whole connection with a `QueueNotFoundError` (its `error` event): a worker must not stay up consuming nothing.
 */
export class ChannelConsumer implements ConsumerHandle {
  private holder: Holder | undefined;
  private tag: string | undefined;
  private cancelled = false;
  private subscribedGeneration = -1;
  private retry: NodeJS.Timeout | undefined;
  /** Channel closes since the last subscription that held. */
  private resubscribes = 0;
  /** Since when the queue has been missing (a broker cancel, or a subscribe refused as NOT_FOUND); 0 when not. */
  private missingSince = 0;
  private readonly removeListener: () => void;

  /**
   * `failWhenMissing`: a queue missing past the connection's deadline is a terminal failure of the connection
   * (task consumers); without it the consumer keeps waiting for the queue (the due mover of a bounded queue).
   */
  constructor(
    private readonly amqp: ReconnectingConnection,
    private readonly queue: string,
    private readonly prefetch: number,
    private readonly onMessage: (message: Message, holder: Holder) => void,
    private readonly onCancel: (consumer: ChannelConsumer) => void,
    private readonly failWhenMissing = true,
  ) {
    this.removeListener = amqp.onConnect(() => this.resubscribe());
  }

  /** Subscribe on the current connection (no-op when already subscribed on it). */
  async subscribe(): Promise<void> {
    const model = await this.amqp.ready();
    // Check and claim the generation with no await in between: exactly one subscription each.
    const generation = this.amqp.generation;
    if (this.cancelled || this.subscribedGeneration === generation) return;
    this.subscribedGeneration = generation;
    let ok: { consumerTag: string };
    try {
      const channel = await model.createChannel();
      channel.on('error', () => undefined);
      const holder = new Holder(channel);
      this.holder = holder;
      channel.once('close', () => this.onChannelClose(generation));
      await channel.prefetch(this.prefetch);
      ok = await channel.consume(
        this.queue,
        (message) => {
          if (message) {
            holder.received(message);
            this.onMessage(message, holder);
          } else this.onBrokerCancel(holder);
        },
        { noAck: false },
      );
    } catch (error) {
      // Not subscribed on this connection after all: the next attempt may claim it again.
      if (this.subscribedGeneration === generation) this.subscribedGeneration = -1;
      if ((error as { code?: number }).code === NOT_FOUND) this.missingSince ||= Date.now();
      throw error;
    }
    this.tag = ok.consumerTag;
    this.resubscribes = 0;
    this.missingSince = 0;
    if (this.cancelled) await this.stop();
  }

  async cancel(): Promise<void> {
    if (this.cancelled) return;
    this.cancelled = true;
    clearTimeout(this.retry);
    this.removeListener();
    this.onCancel(this);
    await this.stop();
  }

  /** Cancel and close the channel, returning unsettled deliveries to the queue. */
  async close(): Promise<void> {
    await this.cancel();
    await this.holder?.close();
  }

  private async stop(): Promise<void> {
    // Deliveries already received stay valid, so the channel stays open until close().
    if (this.tag && this.holder?.alive) await this.holder.channel.cancel(this.tag).catch(() => undefined);
    this.tag = undefined;
  }

  /**
   * The broker cancelled this consumer (its queue was deleted). Closing the channel hands the rest to
   * onChannelClose, which subscribes again with backoff while the queue is missing.
   */
  private onBrokerCancel(holder: Holder): void {
    if (this.cancelled || holder !== this.holder) return;
    this.missingSince ||= Date.now();
    const until = this.failWhenMissing
      ? ` (giving up after ${this.amqp.deadlineMs} ms, reconnectDeadlineMs)`
      : '';
    process.emitWarning(
      `RabbitMQ cancelled the consumer of queue "${this.queue}" (was it deleted?); consuming again once it exists${until}`,
      { code: 'TASKWIRE_CONSUMER_CANCELLED' },
    );
    void holder.close();
  }

  /**
   * Subscribe again after a reconnect. That can fail when the connection drops again at once (a broker still
   * shutting down or starting): try again after a backoff, so the consumer never stays silent.
   */
  private resubscribe(): void {
    void this.subscribe().catch(() => {
      if (!this.cancelled) this.retryAfter(RESUBSCRIBE_AFTER_RECONNECT_BACKOFF);
    });
  }

  /**
   * One pending retry at most: a failure seen both by subscribe() and by its channel's close schedules one. While
   * the queue is missing, the last retry falls on the deadline, and a retry due past it gives up instead.
   */
  private retryAfter(backoff: { baseMs: number; maxMs: number }): void {
    clearTimeout(this.retry);
    let delay = backoffDelay(++this.resubscribes, backoff);
    if (this.missingSince > 0 && this.failWhenMissing) {
      const remaining = this.missingSince + this.amqp.deadlineMs - Date.now();
      if (remaining <= 0) {
        this.giveUp();
        return;
      }
      delay = Math.min(delay, remaining);
    }
    this.retry = setTimeout(() => this.resubscribe(), delay);
  }

  /** The queue stayed missing past the deadline: fail the connection (its `error` event names the queue). */
  private giveUp(): void {
    this.amqp.fail(
      new QueueNotFoundError(
        `RabbitMQ cancelled the consumer of queue "${this.queue}" and the queue did not come back within ${this.amqp.deadlineMs} ms (reconnectDeadlineMs): was it deleted? Declare it again and restart`,
        { retryable: false },
      ),
    );
  }

  private onChannelClose(generation: number): void {
    this.tag = undefined;
    // A dropped connection is handled by the connection's reconnect callback; only a lone channel
    // failure on a still-open connection resubscribes from here.
    if (this.cancelled || !this.amqp.connected || this.amqp.generation !== generation) return;
    this.subscribedGeneration = -1;
    this.retryAfter(RESUBSCRIBE_BACKOFF);
  }
}

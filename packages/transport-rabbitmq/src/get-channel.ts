import { ConnectionClosedError, type LongTimeout, setLongTimeout } from '@taskwire/core';
import type { Message } from 'amqplib';
import { Holder } from './holder.js';
import type { ReconnectingConnection } from './reconnecting-connection.js';

/** One taken message, or why there is none: nothing within the timeout, or the channel went with the connection. */
export type TakeOutcome = Message | 'empty' | 'lost';

/** What a {@link GetChannel} needs from its queue. */
export interface GetChannelOwner {
  readonly name: string;
  /** True once the queue is closing: a waiting get then stays pending until the queue rejects it. */
  readonly closing: boolean;
  /** Give back, uncounted, an item a satisfied get's consumer received before its cancel took effect. */
  handBack(message: Message, holder: Holder): void;
}

/**
 * The channel a queue's `get()` calls take from: prefetch 1, opened on first use and again after it dies. A get
 * with no wait uses `basic.get`; a waiting one a temporary consumer that takes exactly one item.
 */
export class GetChannel {
  private holder: Promise<Holder> | undefined;
  private readonly waiting = new Set<(error: Error) => void>();

  constructor(
    private readonly amqp: ReconnectingConnection,
    private readonly owner: GetChannelOwner,
  ) {}

  /** The live channel, opening a new one when the last one died. */
  current(): Promise<Holder> {
    const current = this.holder;
    if (current) {
      return current.then(
        (holder) => (holder.alive ? holder : this.open()),
        () => this.open(),
      );
    }
    return this.open();
  }

  /** Take an item now, if one is ready. */
  async takeNow(holder: Holder): Promise<TakeOutcome> {
    try {
      const message = await holder.channel.get(this.owner.name, { noAck: false });
      if (!message) return 'empty';
      holder.received(message);
      return message;
    } catch {
      if (holder.alive) throw new ConnectionClosedError(`queue "${this.owner.name}": get failed`);
      return 'lost';
    }
  }

  /** Wait for one item with a temporary prefetch-1 consumer. */
  takeOne(holder: Holder, timeoutMs: number | undefined): Promise<TakeOutcome> {
    const { channel } = holder;
    const { name } = this.owner;
    return new Promise<TakeOutcome>((resolve, reject) => {
      let done = false;
      let timer: LongTimeout | undefined;
      const finish = (result: TakeOutcome | Error) => {
        if (done) return;
        done = true;
        timer?.clear();
        channel.off('close', onClose);
        this.waiting.delete(finish);
        void consumed
          .then((ok) => (holder.alive ? channel.cancel(ok.consumerTag) : undefined))
          .catch(() => undefined);
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      // While closing, a waiting get stays pending until the queue's shutdown rejects it.
      const onClose = () => {
        if (!this.owner.closing) finish('lost');
      };
      channel.once('close', onClose);
      this.waiting.add(finish);
      const consumed = channel.consume(
        name,
        (message) => {
          if (!message) return finish('lost');
          holder.received(message);
          // Rare: after this get was satisfied its consumer received a second item before the
          // cancel took effect. Hand it straight back, uncounted.
          if (done) return this.owner.handBack(message, holder);
          finish(message);
        },
        { noAck: false },
      );
      consumed.catch(() =>
        finish(holder.alive ? new ConnectionClosedError(`queue "${name}" is gone`) : 'lost'),
      );
      if (timeoutMs !== undefined) {
        timer = setLongTimeout(async () => {
          // Cancel first: an item that arrives before the cancel completes is still taken.
          const ok = await consumed.catch(() => undefined);
          if (ok && holder.alive) await channel.cancel(ok.consumerTag).catch(() => undefined);
          finish('empty');
        }, timeoutMs);
      }
    });
  }

  /** Reject every waiting get with `error`. */
  rejectWaiting(error: Error): void {
    for (const reject of [...this.waiting]) reject(error);
  }

  /** Flush its acks and close the channel (its unsettled items go back to the queue). */
  async close(): Promise<void> {
    const holder = await this.holder?.catch(() => undefined);
    await holder?.close();
  }

  private open(): Promise<Holder> {
    const opened = (async () => {
      const channel = await this.amqp.channel();
      // Per-consumer prefetch 1: each waiting get's temporary consumer takes exactly one item.
      await channel.prefetch(1);
      return new Holder(channel);
    })();
    this.holder = opened;
    return opened;
  }
}

import { type BroadcastHandler, type Codec, decodingHandler, type Subscription } from '@taskwire/core';
import { closeQuietly, type Link } from './link.js';

/** The fanout exchange that carries broadcasts on `channel`. */
export function broadcastExchangeName(channel: string): string {
  return `taskwire.broadcast.${channel}`;
}

/**
 * One subscriber of a broadcast channel: an exclusive, auto-deleted queue bound to the channel's
 * fanout exchange, bound again (once) after each reconnect.
 */
export class BroadcastSubscription<T> implements Subscription {
  private generation = -1;
  private stopped = false;
  private readonly removeListener: () => void;
  private close: (() => Promise<void>) | undefined;

  constructor(
    private readonly link: Link,
    private readonly codec: Codec,
    private readonly channelName: string,
    private readonly handler: BroadcastHandler<T>,
  ) {
    this.removeListener = link.onConnect(() => void this.start().catch(() => undefined));
  }

  /** Bind and consume on the current connection (no-op when already done on it). */
  async start(): Promise<void> {
    const model = await this.link.ready();
    const generation = this.link.generation;
    if (this.stopped || this.generation === generation) return;
    this.generation = generation;
    const channel = await model.createChannel();
    channel.on('error', () => undefined);
    this.close = () => closeQuietly(channel);
    const exchange = broadcastExchangeName(this.channelName);
    await channel.assertExchange(exchange, 'fanout', { durable: true });
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
    await channel.bindQueue(queue, exchange, '');
    const deliver = decodingHandler(this.codec, this.handler);
    await channel.consume(queue, (message) => message && deliver(message.content), { noAck: true });
  }

  async unsubscribe(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.removeListener();
    await this.close?.();
  }
}

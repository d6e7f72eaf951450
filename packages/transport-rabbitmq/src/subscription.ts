import { type BroadcastHandler, type Codec, decodingHandler, type Subscription } from '@taskwire/core';
import { closeQuietly, type ReconnectingConnection } from './reconnecting-connection.js';

/**
 * The fanout exchange that carries broadcasts on `channel`. Not `taskwire.broadcast.…`: brokers may still hold
 * durable, non-auto-delete exchanges of that name from older versions, and redeclaring one with other flags fails.
 */
export function broadcastExchangeName(channel: string): string {
  return `taskwire.fanout.${channel}`;
}

/**
 * How broadcast exchanges are declared: the broker deletes one when its last binding goes (its last subscriber
 * unsubscribed or disconnected), so nothing of a finished job's channel stays behind.
 */
const BROADCAST_EXCHANGE = { durable: false, autoDelete: true } as const;

const NOT_FOUND = 404;
/** Declare-and-bind attempts when other subscribers keep leaving in between (each leaving may delete it). */
const BIND_ATTEMPTS = 10;

/**
 * One subscriber of a broadcast channel: an exclusive, auto-deleted queue bound to the channel's
 * auto-delete fanout exchange, bound again (once) after each reconnect.
 */
export class BroadcastSubscription<T> implements Subscription {
  private generation = -1;
  private stopped = false;
  private readonly removeListener: () => void;
  private close: (() => Promise<void>) | undefined;

  constructor(
    private readonly amqp: ReconnectingConnection,
    private readonly codec: Codec,
    private readonly channelName: string,
    private readonly handler: BroadcastHandler<T>,
  ) {
    this.removeListener = amqp.onConnect(() => void this.start().catch(() => undefined));
  }

  /** Bind and consume on the current connection (no-op when already done on it). */
  async start(): Promise<void> {
    const model = await this.amqp.ready();
    const generation = this.amqp.generation;
    if (this.stopped || this.generation === generation) return;
    this.generation = generation;
    const exchange = broadcastExchangeName(this.channelName);
    const deliver = decodingHandler(this.codec, this.handler);
    let queue = ''; // named by the broker on the first attempt, redeclared by name on the next
    for (let attempt = 1; ; attempt++) {
      const channel = await model.createChannel();
      channel.on('error', () => undefined);
      this.close = () => closeQuietly(channel);
      try {
        ({ queue } = await channel.assertQueue(queue, { exclusive: true, autoDelete: true, durable: false }));
        await channel.assertExchange(exchange, 'fanout', BROADCAST_EXCHANGE);
        await channel.bindQueue(queue, exchange, '');
        await channel.consume(queue, (message) => message && deliver(message.content), { noAck: true });
        return;
      } catch (error) {
        // The last other subscriber left between our declare and bind, taking the exchange with it (the
        // failure closed this channel): declare it again.
        if ((error as { code?: number }).code !== NOT_FOUND || attempt >= BIND_ATTEMPTS) throw error;
      }
    }
  }

  async unsubscribe(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.removeListener();
    await this.close?.();
  }
}

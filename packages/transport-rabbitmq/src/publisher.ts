import { ConnectionClosedError } from '@taskwire/core';
import type { ConfirmChannel, Message, Options } from 'amqplib';
import { closeQuietly, type ReconnectingConnection } from './reconnecting-connection.js';

/**
 * How the broker answered a publish: `ack` (stored), `nack` (refused, e.g. a full queue) or `unroutable` (no queue
 * by that name: returned, because every publish is `mandatory`).
 */
export type PublishOutcome = 'ack' | 'nack' | 'unroutable';

// A publish whose channel died before its confirm is sent again on the next channel; bound it
// so a broker that keeps killing the channel surfaces as an error instead of a spin.
const MAX_RESENDS = 50;

/**
 * The connection's one confirm channel for puts. `publish` resolves with the broker's confirm;
 * a publish lost with its channel (connection drop) is resent once a channel is back, so a put
 * either succeeds or rejects with a clear error — it never vanishes (at-least-once).
 */
export class Publisher {
  private channel: Promise<ConfirmChannel> | undefined;
  private open: ConfirmChannel | undefined;
  private drained: Promise<void> | undefined;
  /**
   * Message ids the broker returned as unroutable on the current channel. RabbitMQ sends `basic.return` before the
   * `basic.ack` of the same message, so the ack's callback finds its id here. Empty on the fast path: one size check
   * per confirm.
   */
  private readonly returned = new Set<string>();

  constructor(private readonly amqp: ReconnectingConnection) {}

  /**
   * Publish one message and wait for its confirm. `options.mandatory` makes the broker return it when no queue
   * takes it (then `unroutable`); its `messageId` is how the return is matched to the publish.
   */
  publish(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: Options.Publish,
  ): Promise<PublishOutcome> {
    // Fast path: an open channel with room in its buffer publishes without any await.
    const channel = this.open;
    if (channel && !this.drained) return this.send(channel, exchange, routingKey, content, options, 0);
    return this.resend(exchange, routingKey, content, options, 0);
  }

  /** Close the channel (after pending confirms). */
  async close(): Promise<void> {
    const channel = this.channel;
    this.channel = undefined;
    if (!channel) return;
    const open = await channel.catch(() => undefined);
    await open?.waitForConfirms().catch(() => undefined);
    if (open) await closeQuietly(open);
  }

  private send(
    channel: ConfirmChannel,
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: Options.Publish,
    sends: number,
  ): Promise<PublishOutcome> {
    return new Promise<PublishOutcome>((resolve) => {
      // Lost with its channel (connection drop): send again once a channel is back.
      const lost = () => {
        this.forget(channel);
        resolve(this.resend(exchange, routingKey, content, options, sends + 1));
      };
      try {
        const ok = channel.publish(exchange, routingKey, content, options, (error: Error | null) => {
          if (!error) {
            const id = options.messageId;
            resolve(
              this.returned.size > 0 && id !== undefined && this.returned.delete(id) ? 'unroutable' : 'ack',
            );
          } else if (error.message === 'message nacked') resolve('nack');
          else lost();
        });
        if (!ok && !this.drained) this.waitForDrain(channel);
      } catch {
        lost();
      }
    });
  }

  private async resend(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: Options.Publish,
    sends: number,
  ): Promise<PublishOutcome> {
    if (sends >= MAX_RESENDS) {
      throw new ConnectionClosedError(
        `publish to "${routingKey}" failed: the channel closed ${MAX_RESENDS} times before the broker confirmed`,
      );
    }
    const channel = await this.current();
    if (this.drained) await this.drained;
    return this.send(channel, exchange, routingKey, content, options, sends);
  }

  private current(): Promise<ConfirmChannel> {
    // A dead channel is forgotten on its `close`, so the next publish opens a fresh one.
    if (!this.channel) {
      const created = this.amqp.confirmChannel();
      this.drained = undefined;
      this.channel = created;
      created.then(
        (channel) => {
          if (this.channel === created) this.open = channel;
          channel.once('close', () => this.forget(channel));
          channel.on('return', (message: Message) => {
            const id = message.properties.messageId;
            if (this.open === channel && id !== undefined) this.returned.add(String(id));
          });
        },
        () => {
          if (this.channel === created) this.channel = undefined;
        },
      );
    }
    return this.channel;
  }

  private forget(channel: ConfirmChannel): void {
    if (this.open !== channel) return;
    this.open = undefined;
    this.channel = undefined;
    this.returned.clear();
  }

  private waitForDrain(channel: ConfirmChannel): void {
    // amqplib buffers past its high-water mark; waiting for `drain` bounds memory on big batches.
    this.drained = new Promise<void>((resolve) => {
      const done = () => {
        channel.off('drain', done);
        channel.off('close', done);
        this.drained = undefined;
        resolve();
      };
      channel.on('drain', done);
      channel.on('close', done);
    });
  }
}

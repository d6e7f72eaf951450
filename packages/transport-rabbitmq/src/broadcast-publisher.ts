import { ConnectionClosedError } from '@taskwire/core';
import type { ConfirmChannel } from 'amqplib';
import { closeQuietly, type ReconnectingConnection } from './reconnecting-connection.js';

const NOT_FOUND = 404;
// A broadcast whose channel died with the connection is sent again on the next one; bounded so a broker that
// keeps dropping the connection surfaces as an error instead of a spin.
const MAX_RESENDS = 50;

/** A confirm channel and the reply code the broker closed it with, once it did. */
interface Tracked {
  readonly channel: ConfirmChannel;
  closedWith?: number;
}

/** How one send ended: confirmed, its channel closed by a publish to a missing exchange, or lost. */
type SendOutcome = 'sent' | 'not-found' | 'lost';

/**
 * Publishes broadcasts. A broadcast exchange exists only while it has subscribers (it is declared auto-delete by
 * them, never by a publisher), so a publish may name an exchange that is gone: the broker then closes the channel
 * with NOT_FOUND, which means "nobody subscribes" and resolves. Broadcasts have their own channel so that close
 * never touches the confirm channel of puts.
 */
export class BroadcastPublisher {
  private shared: Promise<Tracked> | undefined;

  constructor(private readonly amqp: ReconnectingConnection) {}

  /** Publish `content` on the fanout `exchange`; resolves once the broker confirmed it or has no such exchange. */
  async publish(exchange: string, content: Buffer): Promise<void> {
    for (let sends = 0; sends < MAX_RESENDS; sends++) {
      const outcome = await send(await this.current(), exchange, content);
      if (outcome === 'sent') return;
      if (outcome === 'not-found') {
        // The shared channel was closed by a publish to a missing exchange: this one's, or another one's in flight
        // on it. Alone on a channel of its own, a NOT_FOUND is unambiguously this exchange's.
        const alone = await this.openChannel();
        try {
          if ((await send(alone, exchange, content)) !== 'lost') return;
        } finally {
          void closeQuietly(alone.channel);
        }
      }
    }
    throw new ConnectionClosedError(
      `broadcast on "${exchange}" failed: the channel closed ${MAX_RESENDS} times before the broker confirmed`,
    );
  }

  /** Close the shared channel (after pending confirms). */
  async close(): Promise<void> {
    const shared = this.shared;
    this.shared = undefined;
    const tracked = await shared?.catch(() => undefined);
    if (!tracked) return;
    await tracked.channel.waitForConfirms().catch(() => undefined);
    await closeQuietly(tracked.channel);
  }

  private current(): Promise<Tracked> {
    if (!this.shared) {
      const created = this.openChannel();
      this.shared = created;
      // A closed channel is forgotten, so the next publish opens a fresh one.
      const forget = () => {
        if (this.shared === created) this.shared = undefined;
      };
      created.then((tracked) => tracked.channel.once('close', forget), forget);
    }
    return this.shared;
  }

  private async openChannel(): Promise<Tracked> {
    const channel = await this.amqp.confirmChannel();
    const tracked: Tracked = { channel };
    // Emitted before `close`, which is when amqplib fails the unconfirmed publishes.
    channel.on('error', (error: { code?: number }) => {
      tracked.closedWith = error.code;
    });
    return tracked;
  }
}

function send(tracked: Tracked, exchange: string, content: Buffer): Promise<SendOutcome> {
  const failed = (): SendOutcome => (tracked.closedWith === NOT_FOUND ? 'not-found' : 'lost');
  return new Promise<SendOutcome>((resolve) => {
    try {
      // A nack (the broker could not take it) ends the broadcast too: broadcasts are best-effort.
      tracked.channel.publish(exchange, '', content, { persistent: false }, (error: Error | null) =>
        resolve(!error || error.message === 'message nacked' ? 'sent' : failed()),
      );
    } catch {
      resolve(failed()); // the channel was already closed
    }
  });
}

import type { Message } from 'amqplib';
import { ChannelConsumer } from './channel-consumer.js';
import type { Holder } from './holder.js';
import type { Publisher } from './publisher.js';
import type { ReconnectingConnection } from './reconnecting-connection.js';

// Due items moved at once per mover: each waits for room on its own.
const MOVER_PREFETCH = 16;
// A move refused by a full queue retries with this backoff, for as long as it takes.
const FULL_RETRY_FIRST_MS = 10;
const FULL_RETRY_MAX_MS = 500;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Moves the due delayed items of a bounded or quorum queue from its due queue into the queue, waiting until the
 * queue takes them. The broker cannot: an item its delay queue dead-letters into a full queue (`x-overflow:
 * reject-publish`), or into a quorum queue still electing its leader after a restart, is dropped. Every handle of
 * such a queue runs one, so due items move while anyone uses the queue; with none open they wait, kept, in the due
 * queue. A move is a confirmed publish and then the ack of the due copy: a crash in between delivers the item twice
 * (at-least-once), never zero times.
 */
export class DueMover {
  private readonly consumer: ChannelConsumer;
  private stopped = false;

  constructor(
    amqp: ReconnectingConnection,
    private readonly publisher: Publisher,
    private readonly queue: string,
    dueQueue: string,
  ) {
    this.consumer = new ChannelConsumer(
      amqp,
      dueQueue,
      MOVER_PREFETCH,
      (message, holder) => void this.move(message, holder),
      () => undefined,
      false, // a deleted bounded queue fails its task consumers; its due copies just wait
    );
  }

  /** Start moving (on the current connection, and again after every reconnect). */
  start(): Promise<void> {
    return this.consumer.subscribe();
  }

  /** Stop; items being moved go back to the due queue. */
  async close(): Promise<void> {
    this.stopped = true;
    await this.consumer.close();
  }

  private async move(message: Message, holder: Holder): Promise<void> {
    try {
      for (
        let wait = FULL_RETRY_FIRST_MS;
        !this.stopped && holder.alive;
        wait = Math.min(wait * 2, FULL_RETRY_MAX_MS)
      ) {
        const outcome = await this.publisher.publish('', this.queue, message.content, {
          ...message.properties,
          mandatory: true,
        });
        if (outcome === 'ack') {
          holder.ack(message);
          return;
        }
        await sleep(wait); // the queue is full, not serving yet, or deleted and not yet declared again: wait
      }
    } catch {
      // the connection gave up: the due copy stays in its queue
    }
    holder.reject(message, true);
  }
}

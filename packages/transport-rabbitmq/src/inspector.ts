import { type MoveOptions, QueueNotFoundError, type QueueStats } from '@taskwire/core';
import { resolveMoveOptions, undecodableTarget } from '@taskwire/core/transport';
import type { Channel, GetMessage, Message, Options } from 'amqplib';
import { ATTEMPT_HEADER, delayQueueName, dueQueueName } from './arguments.js';
import { attemptOf } from './delivery.js';
import type { ManagementApi } from './management.js';
import type { QueueContext } from './queue-context.js';
import type { QueueIndexes } from './queue-index.js';

const NOT_FOUND = 404;

/** A queue's counts from a passive declare. */
interface Counts {
  readonly ready: number;
  readonly consumers: number;
}

/** Where a move stands: how many moved, whether the target refused one (full), and the limit. */
interface Move {
  moved: number;
  full: boolean;
  readonly limit: number;
  readonly ids: ReadonlySet<string> | undefined;
}

/**
 * `stats`, `moveItems` and `purgeQueue` over AMQP, on queues this connection need not have declared. A queue's
 * delayed items are those of its due queue and of the delay queues its index records (see {@link QueueIndexes}).
 */
export class Inspector {
  constructor(
    private readonly context: QueueContext,
    private readonly indexes: QueueIndexes,
    private readonly management: ManagementApi | undefined,
  ) {}

  async stats(name: string): Promise<QueueStats> {
    const counts = await this.counts(name);
    const index = await this.indexes.read(name);
    const delayed = await this.heldCount(name, index.delays);
    const deadName = undecodableTarget(name, index.deadLetter);
    const dead = await this.counts(deadName).catch(notFoundAs(undefined));
    const deadSize = dead ? dead.ready + (await this.heldCount(deadName)) : 0;
    const inFlight = this.management ? await this.management.unacknowledged(name) : undefined;
    return {
      name,
      ready: counts.ready,
      delayed,
      inFlight,
      consumers: counts.consumers,
      deadLetter: { name: deadName, size: deadSize },
    };
  }

  /** Purge the queue, its due queue and its delay queues; in-flight deliveries stay. */
  async purge(name: string): Promise<number> {
    await this.counts(name);
    let removed = 0;
    for (const queue of [name, ...(await this.heldQueues(name))]) {
      removed += await this.context.amqp
        .withChannel(async (channel) => (await channel.purgeQueue(queue)).messageCount)
        .catch(notFoundAs(0));
    }
    return removed;
  }

  /**
   * Move ready items (in serving order), then delayed ones (due first, then by delay), as fresh items to the back
   * of `to`. Each move is a confirmed, mandatory publish to `to` followed by the ack of the original (a crash in
   * between leaves it in both: at-least-once). A ready item taken from `from` that does not move (not among `ids`,
   * or refused by a full `to`) goes to the back of `from` with its deliveries recorded, and so does every ready item
   * after it up to the count the move started with: the queue keeps its order and its attempt counts (a native
   * requeue would mark it redelivered, one delivery more). Delayed items that do not move are requeued natively
   * (their delay queue ignores the flag).
   */
  async move(from: string, to: string, options?: MoveOptions): Promise<number> {
    const { limit, ids } = resolveMoveOptions(options);
    const source = await this.counts(from);
    await this.counts(to);
    const move: Move = { moved: 0, full: false, limit, ids };
    if (limit === 0) return 0;
    await this.onChannel((channel) => this.moveReady(channel, from, to, source.ready, move));
    for (const held of await this.heldQueues(from)) {
      if (move.moved >= limit || move.full) break;
      await this.onChannel((channel) => this.moveHeld(channel, held, to, move));
    }
    return move.moved;
  }

  private async moveReady(channel: Channel, from: string, to: string, count: number, move: Move) {
    let rotating = false;
    for (let seen = 0; seen < count; seen++) {
      const finished = move.moved >= move.limit || move.full;
      if (finished && !rotating) return;
      const message = await channel.get(from, { noAck: false });
      if (!message) return;
      if (!finished && this.wanted(message, move) && (await this.moveOne(channel, message, to, move)))
        continue;
      await this.rotate(channel, message, from);
      rotating = true;
    }
  }

  private async moveHeld(channel: Channel, held: string, to: string, move: Move) {
    const count = await this.counts(held).then((counts) => counts.ready, notFoundAs(0));
    for (let seen = 0; seen < count && move.moved < move.limit && !move.full; seen++) {
      const message = await channel.get(held, { noAck: false });
      if (!message) return;
      // Not moved: left unacked, it goes back in place when the channel closes.
      if (this.wanted(message, move)) await this.moveOne(channel, message, to, move);
    }
  }

  private wanted(message: Message, move: Move): boolean {
    const id = message.properties.messageId;
    return move.ids === undefined || (id !== undefined && move.ids.has(String(id)));
  }

  /** Publish a fresh copy to `to`, then ack the original; false when `to` is full. */
  private async moveOne(channel: Channel, message: GetMessage, to: string, move: Move): Promise<boolean> {
    const headers = Object.fromEntries(
      Object.entries(message.properties.headers ?? {}).filter(([key]) => !key.startsWith('x-')),
    );
    const outcome = await this.publish(to, message, { ...message.properties, headers });
    if (outcome === 'nack') {
      move.full = true;
      return false;
    }
    channel.ack(message);
    move.moved++;
    return true;
  }

  /** To the back of `from`, recording the deliveries it had (as when a consumer gives an item back). */
  private async rotate(channel: Channel, message: GetMessage, from: string): Promise<void> {
    const headers = { ...message.properties.headers, [ATTEMPT_HEADER]: attemptOf(message) - 1 };
    const outcome = await this.publish(from, message, { ...message.properties, headers });
    // Refused (producers filled a bounded `from` meanwhile): it goes back in place when the channel closes.
    if (outcome === 'ack') channel.ack(message);
  }

  private async publish(queue: string, message: Message, properties: Options.Publish) {
    const messageId = properties.messageId ?? this.context.nextId();
    const outcome = await this.context.publisher.publish('', queue, message.content, {
      ...properties,
      messageId,
      mandatory: true,
    });
    if (outcome === 'unroutable') throw notFound(queue);
    return outcome;
  }

  /** A channel of its own for the gets of a move, closed after (returning what it did not ack). */
  private async onChannel(work: (channel: Channel) => Promise<void>): Promise<void> {
    const channel = await this.context.amqp.channel();
    try {
      await work(channel);
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  /** Ready and consumer counts of `name`; `QueueNotFoundError` when it does not exist. */
  private counts(name: string): Promise<Counts> {
    return this.context.amqp
      .withChannel(async (channel) => {
        const ok = await channel.checkQueue(name);
        return { ready: ok.messageCount, consumers: ok.consumerCount };
      })
      .catch((error: unknown) => {
        if ((error as { code?: number }).code === NOT_FOUND) throw notFound(name);
        throw error;
      });
  }

  /** The due queue and the recorded delay queues of `name`, soonest first. */
  private async heldQueues(name: string, delays?: number[]): Promise<string[]> {
    const known = delays ?? (await this.indexes.read(name)).delays;
    return [dueQueueName(name), ...known.map((delayMs) => delayQueueName(name, delayMs))];
  }

  private async heldCount(name: string, delays?: number[]): Promise<number> {
    let total = 0;
    for (const queue of await this.heldQueues(name, delays)) {
      total += await this.counts(queue).then((counts) => counts.ready, notFoundAs(0));
    }
    return total;
  }
}

function notFound(name: string): QueueNotFoundError {
  return new QueueNotFoundError(`queue "${name}" does not exist on the broker`);
}

/** A catch handler: a missing queue counts as `value`; anything else is rethrown. */
function notFoundAs<T>(value: T): (error: unknown) => T {
  return (error) => {
    if (QueueNotFoundError.isInstance(error) || (error as { code?: number }).code === NOT_FOUND) return value;
    throw error;
  };
}

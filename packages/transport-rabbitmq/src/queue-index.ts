import type { Channel, Message } from 'amqplib';
import { DELAY_QUEUE_IDLE_MS } from './arguments.js';
import type { Publisher } from './publisher.js';
import type { ReconnectingConnection } from './reconnecting-connection.js';

/**
 * AMQP cannot list queues nor read a queue's arguments, so what another process needs to inspect a queue is written
 * down on the broker, in one small queue per taskwire queue: which delay queues may hold its items (one marker per
 * delay, living as long as that delay queue can: its delay plus its idle expiry, written again at each
 * redeclaration) and its dead-letter queue (written when the queue is created).
 */
export function indexQueueName(name: string): string {
  return `taskwire.index.${name}`;
}

/** What a queue's index records. */
export interface QueueIndex {
  /** The delays (ms) whose delay queues may hold items, ascending. */
  readonly delays: number[];
  /** Its `deadLetter` option, when it was created with one by a version that records it. */
  readonly deadLetter: string | undefined;
}

const KIND_HEADER = 'x-taskwire-index';
const NOT_FOUND = 404;
const ACCESS_REFUSED = 403;
/** A reader stops waiting for more markers after this long without one (expired markers are counted, not sent). */
const READ_IDLE_MS = 100;
/** Readers take turns (an exclusive consumer): how often one tries before giving up. */
const READ_TRIES = 100;
const READ_RETRY_MS = 30;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Writes and reads the index of queues (see {@link indexQueueName}). */
export class QueueIndexes {
  constructor(
    private readonly amqp: ReconnectingConnection,
    private readonly publisher: Publisher,
    private readonly durable: boolean,
  ) {}

  /** Record that the delay queue of `name` for `delayMs` exists (call before putting into it). */
  recordDelay(name: string, delayMs: number): Promise<void> {
    return this.record(name, 'delay', String(delayMs), String(delayMs + DELAY_QUEUE_IDLE_MS));
  }

  /** Record the dead-letter queue of a newly created queue. */
  recordDeadLetter(name: string, deadLetter: string): Promise<void> {
    return this.record(name, 'deadLetter', deadLetter, undefined);
  }

  /**
   * Read the index of `name` without consuming it: its markers are received by an exclusive consumer (so readers
   * take turns and each sees all of them) and go back when its channel closes.
   */
  async read(name: string): Promise<QueueIndex> {
    for (let tries = 1; ; tries++) {
      try {
        return await this.amqp.withChannel((channel) => readMarkers(channel, indexQueueName(name)));
      } catch (error) {
        const code = (error as { code?: number }).code;
        if (code === NOT_FOUND) return { delays: [], deadLetter: undefined };
        if (code !== ACCESS_REFUSED || tries >= READ_TRIES) throw error;
        await sleep(READ_RETRY_MS);
      }
    }
  }

  private async record(name: string, kind: string, value: string, expiration: string | undefined) {
    const index = indexQueueName(name);
    await this.amqp.withChannel((channel) => channel.assertQueue(index, { durable: this.durable }));
    await this.publisher.publish('', index, Buffer.from(value), {
      persistent: this.durable,
      headers: { [KIND_HEADER]: kind },
      messageId: `${kind}:${value}`,
      ...(expiration === undefined ? {} : { expiration }),
    });
  }
}

function readMarkers(channel: Channel, index: string): Promise<QueueIndex> {
  return channel.checkQueue(index).then(({ messageCount }) => {
    if (messageCount === 0) return { delays: [], deadLetter: undefined };
    return new Promise<QueueIndex>((resolve, reject) => {
      const markers: Message[] = [];
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        resolve(parseMarkers(markers));
      };
      const waitMore = () => {
        clearTimeout(timer);
        timer = setTimeout(done, READ_IDLE_MS);
      };
      channel
        .consume(
          index,
          (message) => {
            if (!message) return done();
            markers.push(message);
            if (markers.length >= messageCount) done();
            else waitMore();
          },
          { exclusive: true, noAck: false },
        )
        .then(waitMore, reject);
    });
  });
}

function parseMarkers(markers: Message[]): QueueIndex {
  const delays = new Set<number>();
  let deadLetter: string | undefined;
  for (const marker of markers) {
    const value = marker.content.toString();
    const kind = marker.properties.headers?.[KIND_HEADER];
    if (kind === 'delay' && /^\d+$/.test(value)) delays.add(Number(value));
    else if (kind === 'deadLetter') deadLetter = value;
  }
  return { delays: [...delays].sort((a, b) => a - b), deadLetter };
}

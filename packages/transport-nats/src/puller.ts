import { createInbox, type Msg, type NatsConnection, type Subscription } from 'nats';

/** How long after its `expires` a pull whose end never came (a reply lost in a reconnect) is given up on. */
const LOST_PULL_GRACE_MS = 2000;

/** A pull request in progress. */
export interface OpenPull {
  /** Resolves with how many messages arrived, once the pull ended (never rejects). */
  readonly done: Promise<number>;
  /** End it on this side: messages the server still sends for it go to the puller's stray handler. */
  stop(): void;
}

/**
 * Pull requests on one durable pull consumer, sent as JetStream's `CONSUMER.MSG.NEXT` requests over core NATS,
 * each with an inbox of its own (a delivery carries its stream subject, not the inbox, so one inbox per pull is how
 * a message is known to be this pull's). Written here rather than taken from the client's consumer API, whose
 * pulls wait at least a second: a `get({ timeoutMs: 100 })` needs a 100 ms pull, and `consume()` needs pulls sized
 * to its free prefetch slots.
 */
export class Puller {
  readonly #open = new Set<() => void>();
  readonly #subject: string;

  /**
   * @param onStray Receives a message that arrived for a pull already stopped on this side: it is held by this
   *   client and must be given back.
   */
  constructor(
    private readonly nc: NatsConnection,
    stream: string,
    consumer: string,
    private readonly onStray: (msg: Msg) => void,
  ) {
    this.#subject = `$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`;
  }

  /** Ask for up to `batch` messages, waiting at most `expiresMs` for them (0: only what is there now). */
  pull(batch: number, expiresMs: number, onMessage: (msg: Msg) => void): OpenPull {
    const inbox = createInbox();
    let received = 0;
    let ended = false;
    let subscription: Subscription | undefined;
    let resolveDone!: (received: number) => void;
    const done = new Promise<number>((resolve) => {
      resolveDone = resolve;
    });
    // Ended by the server (a status, the batch filled): nothing more comes, the inbox goes at once. Stopped here:
    // the server may still send until the request expires, so the inbox stays to hand those back.
    const end = (serverDone: boolean) => {
      if (!ended) {
        ended = true;
        clearTimeout(timer);
        this.#open.delete(stop);
        resolveDone(received);
      }
      if (serverDone) subscription?.unsubscribe();
      else setTimeout(() => subscription?.unsubscribe(), expiresMs + LOST_PULL_GRACE_MS).unref();
    };
    const stop = () => end(false);
    const timer = setTimeout(() => end(true), expiresMs + LOST_PULL_GRACE_MS);
    this.#open.add(stop);
    try {
      subscription = this.nc.subscribe(inbox, {
        callback: (_error, msg) => {
          const status = msg.headers?.code ?? 0;
          if (status !== 0 && msg.data.length === 0 && !msg.reply?.startsWith('$JS.ACK.')) {
            // 404 nothing there, 408 expired, 409 consumer gone or too many waiting: over. 100: a heartbeat.
            if (status !== 100) end(true);
            return;
          }
          if (ended) return this.onStray(msg);
          received++;
          onMessage(msg);
          if (received >= batch) end(true);
        },
      });
      const request =
        expiresMs <= 0 ? { batch, no_wait: true } : { batch, expires: Math.round(expiresMs * 1e6) };
      this.nc.publish(this.#subject, JSON.stringify(request), { reply: inbox });
    } catch {
      end(true); // a closed connection: the caller sees an empty pull and decides
    }
    return { done, stop };
  }

  /** Stop every open pull on this side. */
  stopAll(): void {
    for (const stop of [...this.#open]) stop();
  }

  /** Stop every pull. */
  close(): void {
    this.stopAll();
  }
}

/** What a JetStream delivery's ack subject says: `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>`. */
export interface DeliveryInfo {
  /** Times the server delivered this message, this delivery included. */
  readonly delivered: number;
  /** Its sequence in the stream. */
  readonly seq: number;
}

/** Read a delivery's count and sequence from its ack subject (the same in the old and the domain format). */
export function deliveryInfo(msg: Msg): DeliveryInfo {
  const tokens = (msg.reply ?? '').split('.');
  const n = tokens.length;
  return { delivered: Number(tokens[n - 5]), seq: Number(tokens[n - 4]) };
}

import type { Msg, NatsConnection, Subscription } from 'nats';

/** How long after its `expires` a pull whose end never came (a reply lost in a reconnect) is given up on. */
const LOST_PULL_GRACE_MS = 2000;

/** One open pull request: messages stream to its handler until `batch` arrived or the server ends it. */
interface Pull {
  readonly batch: number;
  received: number;
  readonly onMessage: (msg: Msg) => void;
  readonly end: () => void;
  timer: NodeJS.Timeout | undefined;
}

/** A pull request in progress. */
export interface OpenPull {
  /** Resolves with how many messages arrived, once the pull ended (never rejects). */
  readonly done: Promise<number>;
  /** End it on this side: messages the server still sends for it go to the puller's stray handler. */
  stop(): void;
}

/**
 * Pull requests on one durable pull consumer, sent as JetStream's `CONSUMER.MSG.NEXT` requests over core NATS
 * with one inbox subscription per puller. Written here rather than taken from the client's consumer API, whose
 * pulls wait at least a second: a `get({ timeoutMs: 100 })` needs a 100 ms pull, and `consume()` needs pulls
 * sized to its free prefetch slots.
 */
export class Puller {
  readonly #pulls = new Map<string, Pull>();
  readonly #inbox: string;
  readonly #subject: string;
  readonly #subscription: Subscription;
  #next = 0;

  /**
   * @param onStray Receives a message that arrived for a pull already ended on this side: it is held by this
   *   client and must be given back.
   */
  constructor(
    private readonly nc: NatsConnection,
    stream: string,
    consumer: string,
    private readonly onStray: (msg: Msg) => void,
  ) {
    this.#inbox = `_INBOX.${nc.info?.client_id ?? 0}${Math.random().toString(36).slice(2)}`;
    this.#subject = `$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`;
    this.#subscription = nc.subscribe(`${this.#inbox}.*`, { callback: (_error, msg) => this.#route(msg) });
  }

  /** Ask for up to `batch` messages, waiting at most `expiresMs` for them (0: only what is there now). */
  pull(batch: number, expiresMs: number, onMessage: (msg: Msg) => void): OpenPull {
    const token = (this.#next++).toString(36);
    let end!: () => void;
    const done = new Promise<number>((resolve) => {
      end = () => {
        const pull = this.#pulls.get(token);
        if (!pull) return;
        this.#pulls.delete(token);
        clearTimeout(pull.timer);
        resolve(pull.received);
      };
    });
    const pull: Pull = { batch, received: 0, onMessage, end, timer: undefined };
    this.#pulls.set(token, pull);
    const request =
      expiresMs <= 0 ? { batch, no_wait: true } : { batch, expires: Math.round(expiresMs * 1e6) };
    pull.timer = setTimeout(end, expiresMs + LOST_PULL_GRACE_MS);
    try {
      this.nc.publish(this.#subject, JSON.stringify(request), { reply: `${this.#inbox}.${token}` });
    } catch {
      end(); // a closed connection: the caller sees an empty pull and decides
    }
    return { done, stop: end };
  }

  /** End every open pull on this side. */
  stopAll(): void {
    for (const pull of [...this.#pulls.values()]) pull.end();
  }

  /** End every pull and unsubscribe; later messages are not received (the server redelivers them). */
  close(): void {
    this.stopAll();
    this.#subscription.unsubscribe();
  }

  #route(msg: Msg): void {
    const token = msg.subject.slice(this.#inbox.length + 1);
    const pull = this.#pulls.get(token);
    const status = msg.headers?.code ?? 0;
    if (status !== 0 && msg.data.length === 0 && !msg.reply?.startsWith('$JS.ACK.')) {
      // 404 nothing there, 408 expired, 409 consumer gone or too many waiting: the pull is over. 100: a heartbeat.
      if (status !== 100) pull?.end();
      return;
    }
    if (!pull) {
      this.onStray(msg);
      return;
    }
    pull.received++;
    pull.onMessage(msg);
    if (pull.received >= pull.batch) pull.end();
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

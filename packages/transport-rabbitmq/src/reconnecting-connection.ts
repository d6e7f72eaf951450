import { AuthError, ConnectionClosedError } from '@taskwire/core';
import { backoffDelay } from '@taskwire/core/transport';
import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type SocketOptions } from 'amqplib';
import type { BrokerAddress } from './url.js';

/**
 * Close a channel or connection, ignoring failures: amqplib throws synchronously (not a rejected
 * promise) when it is already closing, and a dead one needs no closing.
 */
export async function closeQuietly(closable: { close(): Promise<void> }): Promise<void> {
  try {
    await closable.close();
  } catch {
    // already closed or closing
  }
}

/**
 * Reconnection backoff: exponential from `initialDelayMs`, doubling up to `maxDelayMs`, each delay a random value
 * between half and all of its step (core's `backoffDelay`), so clients of a restarted broker come back spread out.
 */
export interface ReconnectOptions {
  /** First delay after a connection drops, before jitter. @default 100 */
  initialDelayMs?: number;
  /** Largest delay between attempts. @default 5000 */
  maxDelayMs?: number;
  /** Attempts before giving up (pending puts and gets then reject). @default Infinity */
  maxRetries?: number;
}

/** What a {@link ReconnectingConnection} needs. */
export interface ReconnectingConnectionOptions {
  readonly broker: BrokerAddress;
  readonly socket: SocketOptions;
  readonly reconnect: Required<ReconnectOptions>;
}

/**
 * One AMQP connection that comes back after it drops. Users ask for `ready()` (which waits through
 * a reconnect) and register `onConnect` callbacks, called once per new connection — so consumers
 * re-subscribe exactly once after a reconnect.
 */
export class ReconnectingConnection {
  /** Bumped on every (re)connection; a channel from an older generation is dead. */
  generation = 0;
  private model: ChannelModel | undefined;
  private closed = false;
  private failure: Error | undefined;
  private waiters: { resolve: (model: ChannelModel) => void; reject: (error: Error) => void }[] = [];
  private readonly connectListeners = new Set<(model: ChannelModel) => void>();
  private failureListener: ((error: Error) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  private constructor(private readonly options: ReconnectingConnectionOptions) {}

  /** Connect once; an unreachable broker is a one-line error naming the (redacted) URL. */
  static async open(options: ReconnectingConnectionOptions): Promise<ReconnectingConnection> {
    const connection = new ReconnectingConnection(options);
    try {
      connection.attach(await amqp.connect(options.broker.target, options.socket));
    } catch (error) {
      const reason = (error as Error).message;
      const refused = loginRefusal(error, options.broker.display);
      if (refused) throw refused;
      throw new ConnectionClosedError(
        `cannot connect to RabbitMQ at ${options.broker.display}: ${reason} (is the broker running and the URL right?)`,
        { cause: error },
      );
    }
    return connection;
  }

  /** False once closed (or given up); operations then reject with `ConnectionClosedError`. */
  get usable(): boolean {
    return !this.closed;
  }

  /** True while a connection is up. */
  get connected(): boolean {
    return this.model !== undefined;
  }

  /** The current connection, waiting through a reconnect; rejects once the connection is closed. */
  ready(): Promise<ChannelModel> {
    if (this.model) return Promise.resolve(this.model);
    if (this.closed) return Promise.reject(this.closedError());
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Call `listener` once when the connection gives up for good (it then counts as closed). */
  onFailure(listener: (error: Error) => void): void {
    this.failureListener = listener;
  }

  /** Call `listener` after every reconnection (not the first connection). Returns the remover. */
  onConnect(listener: (model: ChannelModel) => void): () => void {
    this.connectListeners.add(listener);
    return () => this.connectListeners.delete(listener);
  }

  /** A new channel on the current connection; errors are reported through its `close`. */
  async channel(): Promise<Channel> {
    const channel = await (await this.ready()).createChannel();
    channel.on('error', () => undefined);
    return channel;
  }

  /** A new confirm channel on the current connection. */
  async confirmChannel(): Promise<ConfirmChannel> {
    const channel = await (await this.ready()).createConfirmChannel();
    channel.on('error', () => undefined);
    return channel;
  }

  /**
   * Run `operation` on a throwaway channel: a channel-level error (PRECONDITION_FAILED,
   * NOT_FOUND) closes only that channel, never the connection other users share.
   */
  async withChannel<T>(operation: (channel: Channel) => Promise<T>): Promise<T> {
    const channel = await this.channel();
    try {
      return await operation(channel);
    } finally {
      void closeQuietly(channel);
    }
  }

  /** Close for good. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    const model = this.model;
    this.model = undefined;
    this.rejectWaiters(this.closedError());
    this.connectListeners.clear();
    if (model) await closeQuietly(model);
  }

  private attach(model: ChannelModel): void {
    this.model = model;
    this.generation++;
    model.on('error', () => undefined);
    model.on('close', () => {
      if (this.model !== model) return;
      this.model = undefined;
      if (!this.closed) this.scheduleReconnect(1);
    });
    for (const waiter of this.waiters.splice(0)) waiter.resolve(model);
  }

  private scheduleReconnect(attempt: number): void {
    const { initialDelayMs, maxDelayMs, maxRetries } = this.options.reconnect;
    if (attempt > maxRetries) {
      this.giveUp(
        new ConnectionClosedError(
          `gave up reconnecting to RabbitMQ at ${this.options.broker.display} after ${maxRetries} attempts`,
          { retryable: false },
        ),
      );
      return;
    }
    const delay = backoffDelay(attempt, { baseMs: initialDelayMs, maxMs: maxDelayMs });
    this.timer = setTimeout(async () => {
      try {
        const model = await amqp.connect(this.options.broker.target, this.options.socket);
        if (this.closed) {
          await closeQuietly(model);
          return;
        }
        this.attach(model);
        for (const listener of [...this.connectListeners]) listener(model);
      } catch (error) {
        if (this.closed) return;
        // A login refused on reconnect (the password or the user changed) will not fix itself.
        const refused = loginRefusal(error, this.options.broker.display);
        if (refused) this.giveUp(refused);
        else this.scheduleReconnect(attempt + 1);
      }
    }, delay);
  }

  /** Stop for good: waiters and later operations reject with `failure`, and the failure listener hears it. */
  private giveUp(failure: Error): void {
    this.failure = failure;
    this.closed = true;
    this.connectListeners.clear();
    this.rejectWaiters(failure);
    this.failureListener?.(failure);
  }

  private rejectWaiters(error: Error): void {
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }

  private closedError(): Error {
    return this.failure ?? new ConnectionClosedError('RabbitMQ connection is closed');
  }
}

/** The broker's own words: a refused login is an authentication failure, not a lost broker. */
function loginRefusal(error: unknown, display: string): AuthError | undefined {
  const reason = (error as Error).message;
  if (!/ACCESS[_-]REFUSED/.test(reason)) return undefined;
  const detail = /ACCESS_REFUSED - [^."]*/.exec(reason)?.[0] ?? reason;
  return new AuthError(`RabbitMQ at ${display} refused the login: ${detail}`, { cause: error });
}

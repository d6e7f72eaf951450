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
  /** Longest time without a connection before giving up for good (`reconnectDeadlineMs`). */
  readonly deadlineMs: number;
}

// Opening a channel can race the connection's close (the broker shutting down): it is then tried again on the
// next connection, at most this often in a row.
const MAX_CHANNEL_TRIES = 20;

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
  private givenUp: Error | undefined;
  private waiters: { resolve: (model: ChannelModel) => void; reject: (error: Error) => void }[] = [];
  private readonly connectListeners = new Set<(model: ChannelModel) => void>();
  private readonly failureListeners = new Set<(error: Error) => void>();
  private readonly reconnectListeners = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  /** When the last connection dropped, and why (for the give-up message). */
  private droppedAt = 0;
  private lastError: Error | undefined;

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

  /** Why the connection gave up reconnecting, once it did. */
  get failure(): Error | undefined {
    return this.givenUp;
  }

  /** How long the connection may go without what it needs (a broker, a consumed queue) before giving up. */
  get deadlineMs(): number {
    return this.options.deadlineMs;
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

  /** Call `listener` after every reconnection (not the first connection). Returns the remover. */
  onConnect(listener: (model: ChannelModel) => void): () => void {
    this.connectListeners.add(listener);
    return () => this.connectListeners.delete(listener);
  }

  /**
   * Call `listener` once if the connection gives up for good (past its deadline or its retries, or a login refused
   * on reconnect); it then counts as closed.
   */
  /** Hear each reconnect (not the first connection). */
  onReconnect(listener: () => void): void {
    this.reconnectListeners.add(listener);
  }

  onFailure(listener: (error: Error) => void): void {
    this.failureListeners.add(listener);
  }

  /** A new channel on the current connection; errors are reported through its `close`. */
  channel(): Promise<Channel> {
    return this.open((model) => model.createChannel());
  }

  /** A new confirm channel on the current connection. */
  confirmChannel(): Promise<ConfirmChannel> {
    return this.open((model) => model.createConfirmChannel());
  }

  /**
   * Run `operation` on a throwaway channel: a channel-level error (PRECONDITION_FAILED,
   * NOT_FOUND) closes only that channel, never the connection other users share. An operation
   * cut off by the connection dropping runs again once it is back (declares, checks, deletes and
   * purges are all safe to repeat); it fails once the connection gives up.
   */
  async withChannel<T>(operation: (channel: Channel) => Promise<T>): Promise<T> {
    for (let tries = 1; ; tries++) {
      const model = await this.ready();
      const channel = await this.channel();
      try {
        return await operation(channel);
      } catch (error) {
        if (!(await this.droppedSince(model)) || tries >= MAX_CHANNEL_TRIES) throw error;
      } finally {
        void closeQuietly(channel);
      }
    }
  }

  /**
   * Give up for good with `failure` (something the connection cannot restore, e.g. a consumed queue that stays
   * deleted): like giving up reconnecting, pending work rejects with it and failure listeners hear it once.
   */
  fail(failure: Error): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    const model = this.model;
    this.model = undefined;
    this.giveUp(failure);
    // Closing returns every unsettled delivery to its queue.
    if (model) void closeQuietly(model);
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
    this.failureListeners.clear();
    if (model) await closeQuietly(model);
  }

  /**
   * Open a channel with `create` on the current connection. Opening one can race the connection's close (a broker
   * shutting down answers with 320 CONNECTION-FORCED): it is then opened on the next connection instead of
   * failing the caller, until the connection gives up.
   */
  private async open<C extends Channel>(create: (model: ChannelModel) => Promise<C>): Promise<C> {
    for (let tries = 1; ; tries++) {
      const model = await this.ready();
      try {
        const channel = await create(model);
        channel.on('error', () => undefined);
        return channel;
      } catch (error) {
        if (!(await this.droppedSince(model)) || tries >= MAX_CHANNEL_TRIES) throw error;
      }
    }
  }

  /** Whether `model` is no longer the live connection (after letting a close being processed finish). */
  private async droppedSince(model: ChannelModel): Promise<boolean> {
    if (this.closed) return false;
    await new Promise((resolve) => setImmediate(resolve));
    return this.model !== model;
  }

  private attach(model: ChannelModel): void {
    this.model = model;
    this.generation++;
    model.on('error', (error: Error) => {
      this.lastError = error;
    });
    model.on('close', (error?: Error) => {
      if (this.model !== model) return;
      this.model = undefined;
      if (error) this.lastError = error;
      this.droppedAt = Date.now();
      if (!this.closed) this.scheduleReconnect(1);
    });
    for (const waiter of this.waiters.splice(0)) waiter.resolve(model);
  }

  private scheduleReconnect(attempt: number): void {
    const { initialDelayMs, maxDelayMs, maxRetries } = this.options.reconnect;
    const { deadlineMs, broker } = this.options;
    const remaining = this.droppedAt + deadlineMs - Date.now();
    const reason = this.lastError ? ` (last error: ${this.lastError.message})` : '';
    if (attempt > maxRetries) {
      this.giveUp(this.gaveUpReconnecting(`after ${maxRetries} attempts${reason}`));
      return;
    }
    if (remaining <= 0) {
      this.giveUp(
        this.gaveUpReconnecting(`after ${deadlineMs} ms without a connection (reconnectDeadlineMs)${reason}`),
      );
      return;
    }
    // The last attempt falls on the deadline, never after it.
    const delay = Math.min(backoffDelay(attempt, { baseMs: initialDelayMs, maxMs: maxDelayMs }), remaining);
    this.timer = setTimeout(async () => {
      try {
        const model = await amqp.connect(broker.target, this.options.socket);
        if (this.closed) {
          await closeQuietly(model);
          return;
        }
        this.attach(model);
        for (const listener of [...this.reconnectListeners]) listener();
        for (const listener of [...this.connectListeners]) listener(model);
      } catch (error) {
        this.lastError = error as Error;
        if (this.closed) return;
        // A login refused on reconnect (the password or the user changed) will not fix itself.
        const refused = loginRefusal(error, broker.display);
        if (refused) this.giveUp(refused);
        else this.scheduleReconnect(attempt + 1);
      }
    }, delay);
  }

  private gaveUpReconnecting(why: string): ConnectionClosedError {
    return new ConnectionClosedError(
      `gave up reconnecting to RabbitMQ at ${this.options.broker.display} ${why}`,
      {
        cause: this.lastError,
        retryable: false,
      },
    );
  }

  /** Stop for good: pending work rejects with `failure`, and failure listeners hear it. */
  private giveUp(failure: Error): void {
    this.givenUp = failure;
    this.closed = true;
    this.rejectWaiters(failure);
    this.connectListeners.clear();
    for (const listener of [...this.failureListeners]) listener(failure);
    this.failureListeners.clear();
  }

  private rejectWaiters(error: Error): void {
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }

  private closedError(): Error {
    return this.givenUp ?? new ConnectionClosedError('RabbitMQ connection is closed');
  }
}

/** The broker's own words: a refused login is an authentication failure, not a lost broker. */
function loginRefusal(error: unknown, display: string): AuthError | undefined {
  const reason = (error as Error).message;
  if (!/ACCESS[_-]REFUSED/.test(reason)) return undefined;
  const detail = /ACCESS_REFUSED - [^."]*/.exec(reason)?.[0] ?? reason;
  return new AuthError(`RabbitMQ at ${display} refused the login: ${detail}`, { cause: error });
}

import type { Redis } from 'ioredis';
import { inOneWrite } from './one-write.js';

/** How long past its own timeout a BLPOP may stay unanswered before its socket is presumed dead. */
const WATCHDOG_GRACE_MS = 5000;
/** Idle blocking connections kept for reuse. */
const MAX_IDLE = 4;
/** How long an unblocked wait may take to answer before its socket is presumed dead. */
const UNBLOCK_GRACE_MS = 2000;
/** What a released wait resolves with (see {@link BlockingPool.close}). */
const RELEASED = Symbol('released');

/** BLPOP's timeout argument: seconds, never 0 (which would block for ever). */
function seconds(ms: number): string {
  return Math.max(0.001, ms / 1000).toFixed(3);
}

/**
 * Connections for blocking commands (BLPOP), which occupy a connection while they wait. One is
 * lent per waiter, so a waiting `get` never stalls the pipelined command connection.
 */
export class BlockingPool {
  private readonly idle: Redis[] = [];
  private readonly busy = new Set<Redis>();
  private closed = false;
  /** End each pending wait at once (see wait). */
  private readonly releases = new Set<() => void>();

  constructor(private readonly create: () => Redis) {}

  /**
   * Wait up to `ms` for a token on `key`. Resolves true when woken by a token, false on timeout,
   * abort, close or error: callers re-check the queue either way, so a lost wake-up costs at most
   * one wait and never silences a consumer.
   */
  async wait(key: string, ms: number, signal?: AbortSignal): Promise<boolean> {
    if (this.closed || signal?.aborted) return false;
    const client = this.idle.pop() ?? this.create();
    this.busy.add(client);
    let discard = false;
    let release!: () => void;
    // ioredis leaves a command pending for ever when it is disconnected between two reconnect attempts (no close
    // event follows to fail it): an abort or a close ends the wait without waiting for the BLPOP.
    const released = new Promise<false>((resolve) => {
      release = () => resolve(false);
    });
    this.releases.add(release);
    const kill = () => {
      discard = true;
      client.disconnect();
      release();
    };
    // A half-open socket would leave BLPOP pending forever; drop it and let the caller re-check.
    const watchdog = setTimeout(kill, ms + WATCHDOG_GRACE_MS);
    signal?.addEventListener('abort', kill, { once: true });
    try {
      const woken = client.blpop(key, seconds(ms)).then((token) => token !== null);
      woken.catch(() => undefined);
      return await Promise.race([woken, released]);
    } catch {
      discard = true;
      return false;
    } finally {
      clearTimeout(watchdog);
      signal?.removeEventListener('abort', kill);
      this.releases.delete(release);
      this.giveBack(client, discard);
    }
  }

  /**
   * Wait as {@link wait} does, on `key` and on `unblockKey`, with `then` sent right behind the
   * BLPOP on the same connection: the server runs it the moment the wait ends (woken, timed out
   * or unblocked), so the caller has its reply without another round trip.
   *
   * An abort does not drop the connection (that would lose the reply of `then`, which may have
   * run): `unblock` pushes a token to `unblockKey`, the BLPOP returns, `then` runs and its reply
   * comes back as usual. `result` is that reply, if one came. `lost` means a reply of `then` may
   * have been lost, so it may have run without the caller seeing what it did: the socket dropped
   * (ioredis then sends both commands again), the pool closed, the watchdog fired, or an unblock
   * got no answer within {@link UNBLOCK_GRACE_MS}.
   */
  async waitThen<R>(
    key: string,
    unblockKey: string,
    ms: number,
    signal: AbortSignal | undefined,
    unblock: () => Promise<unknown>,
    then: (client: Redis) => Promise<R>,
  ): Promise<{ result?: R; lost: boolean }> {
    if (this.closed || signal?.aborted) return { lost: false };
    const client = this.idle.pop() ?? this.create();
    this.busy.add(client);
    let discard = false;
    let release!: () => void;
    const released = new Promise<typeof RELEASED>((resolve) => {
      release = () => resolve(RELEASED);
    });
    this.releases.add(release);
    const kill = () => {
      discard = true;
      client.disconnect();
      release();
    };
    let dropped = false;
    const drop = () => {
      dropped = true;
    };
    client.once('close', drop);
    let watchdog = setTimeout(kill, ms + WATCHDOG_GRACE_MS);
    const onAbort = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(kill, UNBLOCK_GRACE_MS);
      unblock().catch(kill);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const { popped, after } = inOneWrite(client, () => ({
        popped: client.blpop(key, unblockKey, seconds(ms)),
        after: then(client),
      }));
      popped.catch(() => undefined);
      after.catch(() => undefined);
      const outcome = await Promise.race([after, released]);
      if (outcome === RELEASED) {
        discard = true;
        return { lost: true };
      }
      return { result: outcome, lost: dropped };
    } catch {
      discard = true;
      return { lost: true };
    } finally {
      clearTimeout(watchdog);
      signal?.removeEventListener('abort', onAbort);
      client.off('close', drop);
      this.releases.delete(release);
      this.giveBack(client, discard || dropped);
    }
  }

  /** Keep `client` for the next wait, or drop it. */
  private giveBack(client: Redis, discard: boolean): void {
    this.busy.delete(client);
    if (discard || this.closed || this.idle.length >= MAX_IDLE) client.disconnect();
    else this.idle.push(client);
  }

  /** Disconnect every connection; pending waits resolve false. */
  close(): void {
    this.closed = true;
    for (const client of [...this.idle, ...this.busy]) client.disconnect();
    for (const release of this.releases) release();
    this.idle.length = 0;
  }
}

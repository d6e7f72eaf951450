import type { Redis } from 'ioredis';

/** How long past its own timeout a BLPOP may stay unanswered before its socket is presumed dead. */
const WATCHDOG_GRACE_MS = 5000;
/** Idle blocking connections kept for reuse. */
const MAX_IDLE = 4;
/** What a released wait resolves with (see {@link BlockingPool.close}). */
const RELEASED = Symbol('released');

/**
 * Connections for blocking commands (BLPOP), which occupy a connection while they wait. One is
 * lent per waiter, so a waiting `get` never stalls the pipelined command connection.
 */
export class BlockingPool {
  private readonly idle: Redis[] = [];
  private readonly busy = new Set<Redis>();
  /** End each pending wait at once (see block). */
  private readonly releases = new Set<() => void>();
  private closed = false;

  constructor(private readonly create: () => Redis) {}

  /**
   * Wait up to `ms` for a token on `key`. Resolves true when woken by a token, false on timeout,
   * abort, close or error: callers re-check the queue either way, so a lost wake-up costs at most
   * one wait and never silences a consumer.
   */
  async wait(key: string, ms: number, signal?: AbortSignal): Promise<boolean> {
    return (await this.block(key, ms, signal)).woken;
  }

  /**
   * Wait as {@link wait} does, with `then` sent right behind the BLPOP on the same connection: the
   * server runs it the moment the wait ends (woken or timed out), so the caller gets its reply
   * without another round trip. `result` is its reply, if one came; `lost` means a reply of it may
   * have been lost (abort, close, error, or the socket dropped and ioredis resent it), so it may
   * have run without the caller seeing what it did.
   */
  async waitThen<T>(
    key: string,
    ms: number,
    signal: AbortSignal | undefined,
    then: (client: Redis) => Promise<T>,
  ): Promise<{ result?: T; lost: boolean }> {
    const { after, sent, dropped } = await this.block(key, ms, signal, then);
    return { result: after, lost: sent && (after === undefined || dropped) };
  }

  private async block<T>(
    key: string,
    ms: number,
    signal?: AbortSignal,
    then?: (client: Redis) => Promise<T>,
  ): Promise<{ woken: boolean; after?: T; sent: boolean; dropped: boolean }> {
    if (this.closed || signal?.aborted) return { woken: false, sent: false, dropped: false };
    const client = this.idle.pop() ?? this.create();
    this.busy.add(client);
    let release!: () => void;
    // ioredis leaves a command pending for ever when it is disconnected between two reconnect attempts (no close
    // event follows to fail it): closing the pool ends the wait without waiting for the BLPOP. An abort or the
    // watchdog does not: it drops the socket and waits for the replies, because a take sent behind the BLPOP may
    // have run, and a take given up on strands its items until their lease lapses (counted as a lost attempt).
    const released = new Promise<typeof RELEASED>((resolve) => {
      release = () => resolve(RELEASED);
    });
    this.releases.add(release);
    let discard = false;
    const kill = () => {
      discard = true;
      client.disconnect();
    };
    // A half-open socket would leave BLPOP pending forever; drop it and let the caller re-check.
    const watchdog = setTimeout(kill, ms + WATCHDOG_GRACE_MS);
    signal?.addEventListener('abort', kill, { once: true });
    // A dropped socket may lose a reply that ioredis then resends for: the command may have run twice.
    let dropped = false;
    const drop = () => {
      dropped = true;
    };
    client.once('close', drop);
    const seconds = Math.max(0.001, ms / 1000).toFixed(3);
    const popped = client.blpop(key, seconds);
    const after = then?.(client);
    // Its failure is reported through `sent` below, never as an unhandled rejection.
    after?.catch(() => undefined);
    try {
      const outcome = await Promise.race([popped, released]);
      if (outcome === RELEASED) {
        popped.catch(() => undefined);
        discard = true;
        return { woken: false, sent: after !== undefined, dropped: true };
      }
      const woken = outcome !== null;
      return { woken, after: after ? await after : undefined, sent: after !== undefined, dropped };
    } catch {
      discard = true;
      return { woken: false, sent: after !== undefined, dropped };
    } finally {
      client.off('close', drop);
      clearTimeout(watchdog);
      signal?.removeEventListener('abort', kill);
      this.releases.delete(release);
      this.busy.delete(client);
      if (discard || this.closed || this.idle.length >= MAX_IDLE) client.disconnect();
      else this.idle.push(client);
    }
  }

  /** Disconnect every connection; pending waits resolve false. */
  close(): void {
    this.closed = true;
    for (const release of this.releases) release();
    for (const client of [...this.idle, ...this.busy]) client.disconnect();
    this.idle.length = 0;
  }
}

import type { Redis } from 'ioredis';

/** How long past its own timeout a BLPOP may stay unanswered before its socket is presumed dead. */
const WATCHDOG_GRACE_MS = 5000;
/** Idle blocking connections kept for reuse. */
const MAX_IDLE = 4;

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
      const seconds = Math.max(0.001, ms / 1000).toFixed(3);
      const woken = client.blpop(key, seconds).then((token) => token !== null);
      woken.catch(() => undefined);
      return await Promise.race([woken, released]);
    } catch {
      discard = true;
      return false;
    } finally {
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
    for (const client of [...this.idle, ...this.busy]) client.disconnect();
    for (const release of this.releases) release();
    this.idle.length = 0;
  }
}

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
    const kill = () => {
      discard = true;
      client.disconnect();
    };
    // A half-open socket would leave BLPOP pending forever; drop it and let the caller re-check.
    const watchdog = setTimeout(kill, ms + WATCHDOG_GRACE_MS);
    signal?.addEventListener('abort', kill, { once: true });
    try {
      const seconds = Math.max(0.001, ms / 1000).toFixed(3);
      return (await client.blpop(key, seconds)) !== null;
    } catch {
      discard = true;
      return false;
    } finally {
      clearTimeout(watchdog);
      signal?.removeEventListener('abort', kill);
      this.busy.delete(client);
      if (discard || this.closed || this.idle.length >= MAX_IDLE) client.disconnect();
      else this.idle.push(client);
    }
  }

  /** Disconnect every connection; pending waits resolve false. */
  close(): void {
    this.closed = true;
    for (const client of [...this.idle, ...this.busy]) client.disconnect();
    this.idle.length = 0;
  }
}

/**
 * Longest delay `setTimeout` honours. Past it Node fires after 1 ms and prints a
 * `TimeoutOverflowWarning`, so a 25-day delay would become a busy loop.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A pending {@link setLongTimeout}. */
export interface LongTimeout {
  /** Cancel it (harmless once fired). */
  clear(): void;
  /** Do not keep the process alive for it. */
  unref(): LongTimeout;
}

class ChainedTimeout implements LongTimeout {
  private timer: NodeJS.Timeout;
  private referenced = true;

  constructor(
    private readonly callback: () => void,
    private readonly dueAt: number,
  ) {
    this.timer = this.arm();
  }

  clear(): void {
    clearTimeout(this.timer);
  }

  unref(): LongTimeout {
    this.referenced = false;
    this.timer.unref();
    return this;
  }

  private arm(): NodeJS.Timeout {
    const remaining = this.dueAt - Date.now();
    const timer =
      remaining > MAX_TIMER_MS
        ? setTimeout(() => {
            this.timer = this.arm();
          }, MAX_TIMER_MS)
        : setTimeout(this.callback, Math.max(0, remaining));
    if (!this.referenced) timer.unref();
    return timer;
  }
}

class PlainTimeout implements LongTimeout {
  constructor(private readonly timer: NodeJS.Timeout) {}

  clear(): void {
    clearTimeout(this.timer);
  }

  unref(): LongTimeout {
    this.timer.unref();
    return this;
  }
}

/**
 * `setTimeout` for any delay up to `MAX_DURATION_MS`: longer than {@link MAX_TIMER_MS}, it
 * chains timers until the due time.
 */
export function setLongTimeout(callback: () => void, ms: number): LongTimeout {
  if (ms <= MAX_TIMER_MS) return new PlainTimeout(setTimeout(callback, ms));
  return new ChainedTimeout(callback, Date.now() + ms);
}

/**
 * Wake-ups between the queues of one process that share a database file: a put, an ack or a settle wakes every
 * taker at once instead of at its next poll. Other processes are seen at the next poll.
 */
export class Wakeups {
  private readonly waiters = new Set<() => void>();

  /** Resolve at the next {@link notify}, or after `ms`. */
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.waiters.add(wake);
    });
  }

  notify(): void {
    for (const wake of [...this.waiters]) wake();
  }
}

const byFile = new Map<string, Wakeups>();

/** The wake-ups of the connections of this process to `file`. */
export function wakeupsOf(file: string): Wakeups {
  let wakeups = byFile.get(file);
  if (!wakeups) {
    wakeups = new Wakeups();
    byFile.set(file, wakeups);
  }
  return wakeups;
}

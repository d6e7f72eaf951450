// setTimeout fires at once for anything longer.
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Wake-ups for a backend that cannot push: a taker with nothing to take, or a put waiting for room, sleeps on the
 * signal for at most its poll interval, and whatever may have changed the queue (a put, an ack, a settle, a
 * notification from the backend) wakes every sleeper at once to look again. A lost or spurious wake-up costs at
 * most one poll: sleepers always re-check the backend.
 *
 * A PostgreSQL transport calls {@link notify} from its `LISTEN` handler (the backend's `NOTIFY` after a put or a
 * settle), so other processes' writes wake it too; SQLite has no such channel and relies on the poll for them.
 */
export class WakeSignal {
  private readonly sleepers = new Set<() => void>();

  /** Resolve at the next {@link notify}, after `ms`, or when `abort` fires, whichever comes first. */
  wait(ms: number, abort?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (abort?.aborted) return resolve();
      const wake = () => {
        clearTimeout(timer);
        abort?.removeEventListener('abort', wake);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, Math.min(Math.max(0, ms), MAX_TIMER_MS));
      abort?.addEventListener('abort', wake, { once: true });
      this.sleepers.add(wake);
    });
  }

  /** Wake every sleeper. */
  notify(): void {
    for (const wake of [...this.sleepers]) wake();
  }
}

const shared = new Map<string, WakeSignal>();

/**
 * The one {@link WakeSignal} of this process for the backend named `key` (a database file, a database URL): every
 * connection of the process to the same backend shares it, so one connection's put wakes another's takers at once.
 */
export function sharedWakeSignal(key: string): WakeSignal {
  let signal = shared.get(key);
  if (!signal) {
    signal = new WakeSignal();
    shared.set(key, signal);
  }
  return signal;
}

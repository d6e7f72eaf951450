// setTimeout fires at once for anything longer.
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Wake-ups for a backend that cannot push: a taker with nothing to take, or a put waiting for room, sleeps on the
 * signal for at most its poll interval, and whatever may have changed the queue (a put, an ack, a settle, a
 * notification from the backend) wakes every sleeper at once to look again. A spurious wake-up costs one look, and
 * none is lost (see {@link notified}); should the backend's own notification be lost, the poll still comes.
 *
 * A PostgreSQL transport calls {@link notify} from its `LISTEN` handler (the backend's `NOTIFY` after a put or a
 * settle), so other processes' writes wake it too; SQLite has no such channel and relies on the poll for them.
 */
export class WakeSignal {
  private readonly sleepers = new Set<() => void>();
  private notifies = 0;

  /**
   * How many times {@link notify} has run. A sleeper reads it before it looks at the backend and passes it to
   * {@link wait}: a wake-up that came while it looked (a put landing after an empty take read the queue, its
   * notification arriving before the take's reply) then ends the wait at once instead of being lost for a poll.
   */
  get notified(): number {
    return this.notifies;
  }

  /**
   * Resolve at the next {@link notify}, after `ms`, or when `abort` fires, whichever comes first; at once when a
   * notify came since the count `since` was read from {@link notified}.
   */
  wait(ms: number, abort?: AbortSignal, since?: number): Promise<void> {
    return new Promise((resolve) => {
      if (abort?.aborted || (since !== undefined && since !== this.notifies)) return resolve();
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
    this.notifies++;
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

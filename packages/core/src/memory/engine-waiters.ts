import { type LongTimeout, setLongTimeout } from '../timer.js';
import { Deque } from './deque.js';
import type { EnginePutOptions, TaggedItem } from './engine-item.js';
import type { EngineSession } from './engine-session.js';

/** A get or put waiting on a queue. */
export interface Waiter {
  readonly session: EngineSession | undefined;
  readonly reject: (error: Error) => void;
  timer: LongTimeout | undefined;
}

/** A get waiting for an item. */
export interface GetWaiter<V> extends Waiter {
  readonly session: EngineSession;
  readonly resolve: (taken: TaggedItem<V>) => void;
}

/** A put waiting for room. */
export interface PutWaiter<V> extends Waiter {
  readonly value: V;
  readonly options: EnginePutOptions;
  readonly resolve: () => void;
}

/**
 * The gets (or puts) waiting on one queue, served first come, first served. Each may give up after its own
 * timeout, and all of a session's are rejected when it closes.
 */
export class Waiters<W extends Waiter> {
  private readonly queue = new Deque<W>();

  get length(): number {
    return this.queue.length;
  }

  /** Queue `waiter`; after `timeoutMs` (undefined: never) it leaves the queue and `onTimeout` runs. */
  add(waiter: W, timeoutMs: number | undefined, onTimeout: () => void): void {
    if (timeoutMs !== undefined) {
      waiter.timer = setLongTimeout(() => {
        this.queue.remove((w) => w === waiter);
        onTimeout();
      }, timeoutMs);
    }
    this.queue.pushBack(waiter);
  }

  /** The longest-waiting one, removed and its timer stopped; undefined when none waits. */
  next(): W | undefined {
    const waiter = this.queue.popFront();
    waiter?.timer?.clear();
    return waiter;
  }

  /** Reject every waiter of a closing session. */
  dropSession(session: EngineSession, error: () => Error): void {
    for (const waiter of [...this.queue]) {
      if (waiter.session !== session) continue;
      this.queue.remove((w) => w === waiter);
      waiter.timer?.clear();
      waiter.reject(error());
    }
  }
}

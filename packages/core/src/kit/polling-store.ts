/** A value, or a promise of it: a synchronous client (better-sqlite3) returns values, a networked one promises. */
export type Awaitable<T> = T | Promise<T>;

/** One item a {@link PollingStore.take} leased to the handle; the store adds what it needs to settle it (a token). */
export interface PolledItem {
  /** Stable across redeliveries. */
  readonly id: string;
  /** This delivery's attempt: the stored count, bumped by the take. */
  readonly attempt: number;
  readonly payload: Uint8Array;
}

/** How long a taken item stays held before the store serves it again. */
export interface ItemLease {
  /** Milliseconds from the take (or the last {@link PollingStore.renew}). */
  readonly ms: number;
  /**
   * True on queues without a visibility timeout: the lease stands for the holder being alive, and the queue renews
   * it while it holds the item. False: the lease is the visibility timeout, and is never renewed.
   */
  readonly renewable: boolean;
}

/** Where a {@link PollingStore.put} puts items. */
export interface StorePut {
  /** 0–255; always 0 on a queue whose order is not `priority`. */
  readonly priority: number;
  /** The items become takeable this many ms from now. */
  readonly delayMs: number;
  /** The queue's `maxsize` (0 = unbounded): ready + delayed items, held ones not counted. */
  readonly maxsize: number;
}

/**
 * The storage of one queue, as a backend with no push keeps it: everything a `PollingQueue` needs, and only
 * the backend's own part of it. Every method may be synchronous or return a promise; a rejection (a dropped
 * connection) reaches the caller wrapped in a `BackendError`, and a consumer retries its takes with backoff.
 *
 * The rules the conformance suite checks are the store's: a take bumps the stored attempt and hands out a fresh
 * token per take, so a settle of an older delivery of the same item matches nothing and is a no-op; a returned
 * item goes behind the waiting ones of its priority; a take first returns items whose lease passed.
 *
 * On PostgreSQL: waiting items are kept a row per chunk of up to 64; `take` locks chunks one at a time with
 * `FOR UPDATE SKIP LOCKED` (concurrent takers never wait for each other), deletes or cuts them and writes one lease
 * row keeping what it took, and an empty take answers a {@link TakeReply}; `put` takes a per-queue lock
 * (`pg_advisory_xact_lock`) when bounded, counts, inserts what fits and `NOTIFY`s; `ack` deletes a whole take's lease
 * row in one statement per batch; `renew` is one `UPDATE … WHERE owner = $1 AND renewable`; and the `LISTEN`
 * connection's notification handler calls the queue's `WakeSignal.notify()`, so other processes' puts wake takers
 * without busy polling.
 * On SQLite (the example transport), each is a statement or an immediate transaction on one file.
 */
/** A take's items, and (read when there are none) when the next delayed item or lapsed lease falls due. */
export interface TakeReply<I> {
  readonly items: readonly I[];
  /** Epoch ms of the next item to become takeable; undefined when none waits. */
  readonly nextReadyAt: number | undefined;
}

export interface PollingStore<I extends PolledItem> {
  /**
   * Hold up to `limit` takeable items (ready, or held with a passed lease) for `lease`, in serving order, counting
   * an attempt each. Called on every poll: keep it cheap when nothing is due (SQLite reads before it writes).
   * A backend that learns in the same round trip when the next item falls due answers a {@link TakeReply}: an empty
   * take then needs no {@link nextReadyAt} round trip.
   */
  take(limit: number, lease: ItemLease): Awaitable<readonly I[] | TakeReply<I>>;
  /**
   * Store as many of `payloads`, from the first, as `maxsize` leaves room for (all, when unbounded), counting and
   * inserting atomically; resolve with how many were stored. The queue waits for room for the rest.
   */
  put(payloads: readonly Uint8Array[], options: StorePut): Awaitable<number>;
  /** Remove held items for good: a batch, the acks of one event-loop turn. A stale token removes nothing. */
  ack(items: readonly I[]): Awaitable<void>;
  /**
   * Give a held item back behind the waiting ones, takeable after `delayMs`; without `countAttempt`, take back the
   * attempt its take counted (work returned unstarted).
   */
  requeue(item: I, options: { readonly delayMs: number; readonly countAttempt: boolean }): Awaitable<void>;
  /** Move a held item to queue `target` as a fresh item (declaring `target` if needed). */
  deadLetter(item: I, target: string): Awaitable<void>;
  /** Extend the lease of the renewable items this handle holds by `lease.ms`. Without it, leases are never renewed. */
  renew?(lease: ItemLease): Awaitable<void>;
  /** When (epoch ms) the next delayed item becomes takeable, if one waits: an idle taker sleeps no longer. */
  nextReadyAt?(): Awaitable<number | undefined>;
  /** Ready + delayed items. */
  size(): Awaitable<number>;
  /** Remove every ready and delayed item; resolve with how many. */
  purge(): Awaitable<number>;
  /** Remove the queue with its items and its declaration. */
  drop(): Awaitable<void>;
}

import type { StoredItem, TaggedItem } from './engine-item.js';

/**
 * What sessions and consumers ask of a queue (the engine's queue implements it; this module needs no more of it,
 * so the two do not import each other).
 */
export interface SessionQueue<V> {
  /** Stop pushing to `consumer`. */
  removeConsumer(consumer: EngineConsumer<V>): void;
  /** Reject a closing session's waiting gets and puts. */
  dropSession(session: EngineSession): void;
  /** Return an unsettled delivery of a closed session to the queue. */
  returnDelivery(delivery: InFlight<V>): void;
  /** A paused consumer takes deliveries again: hand it what is ready. */
  resumeConsumer(consumer: EngineConsumer<V>): void;
}

/** A delivery its taker has not settled yet. */
export interface InFlight<V> {
  readonly tag: number;
  readonly item: StoredItem<V>;
  readonly queue: SessionQueue<V>;
  readonly session: EngineSession;
  readonly consumer: EngineConsumer<V> | undefined;
  /** When its visibility timeout ends; 0 = none, or settled. */
  deadline: number;
}

/** A push consumer: receives up to `prefetch` unsettled deliveries. */
export class EngineConsumer<V> {
  outstanding = 0;
  active = true;
  /** True between {@link pause} and {@link resume}. */
  paused = false;

  constructor(
    readonly queue: SessionQueue<V>,
    readonly session: EngineSession,
    public prefetch: number,
    readonly onDelivery: (taken: TaggedItem<V>) => void,
  ) {}

  get hasCapacity(): boolean {
    return this.active && !this.paused && this.outstanding < this.prefetch;
  }

  /**
   * Take no new deliveries until {@link resume}, whatever the prefetch window (its receiver is not keeping up:
   * a socket whose output is backed up). Deliveries already made stay valid.
   */
  pause(): void {
    this.paused = true;
  }

  /** Take deliveries again after {@link pause}. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.active) this.queue.resumeConsumer(this);
  }

  /** Stop receiving; deliveries already made stay valid. */
  cancel(): void {
    if (!this.active) return;
    this.active = false;
    this.queue.removeConsumer(this);
  }
}

/**
 * One client of the engine (a connection). Closing it rejects its waiting gets and puts, cancels
 * its consumers and requeues every delivery it has not settled.
 */
export class EngineSession {
  closed = false;
  /** @internal */ readonly inFlight = new Map<number, InFlight<any>>();
  /** @internal */ readonly consumers = new Set<EngineConsumer<any>>();
  /** @internal */ readonly queues = new Set<SessionQueue<any>>();

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const consumer of this.consumers) consumer.cancel();
    for (const queue of this.queues) queue.dropSession(this);
    // Oldest first: each goes to the back of its queue, so they keep their original order.
    const held = [...this.inFlight.values()];
    this.inFlight.clear();
    for (const delivery of held) delivery.queue.returnDelivery(delivery);
  }
}

/** A queue's push consumers, served round-robin so each gets its share. */
export class ConsumerRing<V> {
  private consumers: EngineConsumer<V>[] = [];
  private next = 0;

  get length(): number {
    return this.consumers.length;
  }

  add(consumer: EngineConsumer<V>): void {
    this.consumers.push(consumer);
  }

  remove(consumer: EngineConsumer<V>): void {
    this.consumers = this.consumers.filter((c) => c !== consumer);
  }

  /** The next consumer with room for a delivery, or undefined when all are full. */
  pick(): EngineConsumer<V> | undefined {
    const count = this.consumers.length;
    for (let i = 0; i < count; i++) {
      const index = (this.next + i) % count;
      const consumer = this.consumers[index]!;
      if (consumer.hasCapacity) {
        this.next = (index + 1) % count;
        return consumer;
      }
    }
    return undefined;
  }
}

/** A stored item. `attempt` counts deliveries so far. */
export interface EngineItem<V> {
  readonly id: string;
  readonly value: V;
  readonly priority: number;
  readonly seq: number;
  attempt: number;
}

/** An item handed to a taker, with the tag that settles it. */
export interface TaggedItem<V> {
  readonly tag: number;
  readonly item: EngineItem<V>;
}

/** An item shown by `EngineQueue.peek`, its value still encoded. */
export interface PeekedEngineItem<V> {
  readonly id: string;
  readonly value: V;
  /** Deliveries so far. */
  readonly attempts: number;
  readonly state: 'ready' | 'delayed';
  /** When a delayed item becomes ready (epoch ms). */
  readonly readyAt?: number;
  /** On a priority queue. */
  readonly priority?: number;
}

/** Options of `EngineQueue.put`. */
export interface EnginePutOptions {
  priority?: number;
  delayMs?: number;
  timeoutMs?: number;
  /** Skip the maxsize check (requeues and dead-lettering never fail). */
  force?: boolean;
  /** Keep this id (dead-lettering keeps the item's identity). */
  id?: string;
}

/**
 * An item as stored. The id string is derived from the sequence number on demand: a queue holding
 * a million items should not also hold a million id strings.
 */
export class StoredItem<V> implements EngineItem<V> {
  attempt = 0;

  constructor(
    private readonly idPrefix: string,
    readonly value: V,
    readonly priority: number,
    readonly seq: number,
    private readonly customId: string | undefined,
  ) {}

  get id(): string {
    return this.customId ?? this.idPrefix + this.seq.toString(36);
  }
}

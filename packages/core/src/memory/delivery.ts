import { BaseDelivery } from '../kit/delivery.js';
import type { NackOptions } from '../types.js';
import type { TaggedItem } from './engine-item.js';
import type { EngineQueue } from './engine-queue.js';
import type { EngineSession } from './engine-session.js';
import type { StoredPayload } from './payload.js';

const SETTLED = Promise.resolve();

/** A delivery of the memory transport: its settlement goes straight to the engine queue. */
export class MemoryDelivery<T> extends BaseDelivery<T> {
  /** Read when delivered: the stored item's count moves on when it is given back. */
  readonly attempt: number;

  constructor(
    private readonly queue: EngineQueue<StoredPayload>,
    private readonly session: EngineSession,
    private readonly taken: TaggedItem<StoredPayload>,
    readonly body: T,
  ) {
    super();
    this.attempt = taken.item.attempt;
  }

  get id(): string {
    return this.taken.item.id;
  }

  protected settleAck(): Promise<void> {
    this.queue.ack(this.session, this.taken.tag);
    return SETTLED;
  }

  protected settleNack(options: NackOptions): Promise<void> {
    this.queue.nack(this.session, this.taken.tag, options);
    return SETTLED;
  }
}

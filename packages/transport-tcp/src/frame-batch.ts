import { TickBatcher } from '@taskwire/core/transport';
import { BATCH_MAX_ITEMS } from './frame-budget.js';

/**
 * The items of one batch frame (puts or acks to one queue handle) collected during a turn. Unlike a plain
 * {@link TickBatcher}, which flushes once it has *reached* a size, this one flushes *before* an item that would take
 * the frame over its budget, so a batch of several items never exceeds it.
 */
export class FrameBatch<T> {
  private readonly batcher: TickBatcher<T>;
  /** Frame bytes of the items waiting. */
  private bytes = 0;

  /**
   * @param onFlush Sends one batch; its promise settles every item's.
   * @param schedule Arranges a flush later in this turn (the socket's outbox flushes every batch before it writes).
   */
  constructor(onFlush: (items: T[]) => Promise<unknown>, schedule: () => void) {
    this.batcher = new TickBatcher(
      (items) => {
        this.bytes = 0;
        return onFlush(items);
      },
      { maxItems: BATCH_MAX_ITEMS, schedule },
    );
  }

  /**
   * Add `item`, whose entry takes `cost` frame bytes, to a batch whose entries may take `budget` bytes; resolves
   * once the batch it joined was answered.
   */
  add(item: T, cost: number, budget: number): Promise<void> {
    if (!this.batcher.isEmpty && this.bytes + cost > budget) this.batcher.flush();
    const done = this.batcher.nextFlush();
    this.bytes += cost;
    this.batcher.add(item);
    return done;
  }

  /** Send what waits now. */
  flush(): void {
    this.batcher.flush();
  }

  /** Drop what waits: its promise rejects with `reason`, or resolves without one. */
  discard(reason?: unknown): void {
    this.bytes = 0;
    this.batcher.discard(reason);
  }
}

import type { Socket } from 'node:net';
import { FrameEncoder } from './wire.js';

/**
 * Outgoing frames of one socket, written once per event-loop turn.
 *
 * Everything queued during a turn (replies, pushed deliveries, batched puts and acks) is encoded
 * into one buffer and leaves in one `write`, so a busy connection pays one syscall per turn
 * instead of one per frame.
 */
export class Outbox {
  private readonly encoder = new FrameEncoder();
  private scheduled = false;

  /**
   * @param socket Where frames go.
   * @param beforeFlush Called at the start of every flush, to turn batches still being filled
   *   into frames.
   */
  constructor(
    private readonly socket: Socket,
    private readonly beforeFlush?: () => void,
  ) {}

  /** Queue one frame; it is written at the end of this turn. */
  push(message: readonly unknown[]): void {
    this.encoder.frame(message);
    this.schedule();
  }

  /** Make sure a flush runs at the end of this turn (for batches the owner is filling). */
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flush);
  }

  /** Drop everything queued (the socket is gone). */
  clear(): void {
    this.encoder.take();
  }

  /** Write everything queued now. */
  readonly flush = (): void => {
    // Cleared only after beforeFlush, so the frames it adds ride along instead of scheduling
    // another turn.
    this.beforeFlush?.();
    this.scheduled = false;
    if (this.encoder.length === 0) return;
    const bytes = this.encoder.take();
    if (!this.socket.destroyed) this.socket.write(bytes);
  };
}

import type { Socket } from 'node:net';
import { TickBatcher } from '@taskwire/core/transport';
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
  private readonly frames: TickBatcher<readonly unknown[]>;

  /**
   * @param socket Where frames go.
   * @param beforeFlush Called at the start of every flush, to turn batches still being filled
   *   into frames (they ride along in the same write).
   * @param maxFrameBytes The largest frame the other side accepts: whoever fills this outbox sizes its batches by
   *   it (see `frame-budget.ts`).
   * @param watcher Told after every write and when each write has been sent (the server bounds how much output
   *   to a peer is unsent).
   */
  constructor(
    private readonly socket: Socket,
    beforeFlush: (() => void) | undefined,
    readonly maxFrameBytes: number,
    private readonly watcher?: { readonly written: () => void; readonly flushed: () => void },
  ) {
    this.frames = new TickBatcher((frames) => this.write(frames), { beforeFlush });
  }

  /** Queue one frame; it is written at the end of this turn. */
  push(message: readonly unknown[]): void {
    this.frames.add(message);
  }

  /** Make sure a flush runs at the end of this turn (for batches the owner is filling). */
  schedule(): void {
    this.frames.wake();
  }

  /** Drop everything queued (the socket is gone). */
  clear(): void {
    this.frames.take();
  }

  /** Write everything queued now. */
  flush(): void {
    this.frames.flush();
  }

  private write(frames: (readonly unknown[])[]): void {
    for (const frame of frames) this.encoder.frame(frame);
    const bytes = this.encoder.take();
    if (this.socket.destroyed) return;
    if (!this.watcher) {
      this.socket.write(bytes);
      return;
    }
    this.socket.write(bytes, this.watcher.flushed);
    this.watcher.written();
  }
}

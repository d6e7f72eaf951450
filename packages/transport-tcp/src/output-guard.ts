import type { Socket } from 'node:net';

/** Limits of an {@link OutputGuard}. */
export interface OutputLimits {
  /** Unsent bytes above which the peer counts as backed up. */
  readonly maxOutputBytes: number;
  /** A backed-up peer whose output has not drained within this many ms is dropped. */
  readonly stalledTimeoutMs: number;
}

/** What the owner does as the peer's output backs up, drains, or stays stuck. */
export interface OutputHandlers {
  /** Output went over the bound: push nothing optional (deliveries, broadcasts) until {@link onResume}. */
  onHold(): void;
  /** The output drained. */
  onResume(): void;
  /** Still backed up at the deadline: drop the peer. */
  onStalled(): void;
}

/**
 * Bounds what a server keeps unsent for one peer: the socket's unsent output plus what this turn has queued for it
 * and not yet written. Once that passes `maxOutputBytes`, the owner is told to hold (its consumers pause at once,
 * even halfway through a turn's deliveries, and the socket stops being read, so requests stop producing replies);
 * when the output has drained completely everything flows again. A peer whose output has not drained within
 * `stalledTimeoutMs` is stalled and the owner is told to drop it. The output can pass the bound only by one
 * item or by replies to requests already read.
 */
export class OutputGuard {
  private held = false;
  private timer: NodeJS.Timeout | undefined;
  /** Bytes queued for the peer this turn, not yet handed to the socket. */
  private queued = 0;

  constructor(
    private readonly socket: Socket,
    private readonly limits: OutputLimits,
    private readonly handlers: OutputHandlers,
  ) {
    // 'drain' follows a write that found the buffer over its high-water mark, once everything is sent.
    socket.on('drain', this.flushed);
  }

  /** `bytes` of optional output (a delivery, a broadcast) were queued for the next write. */
  add(bytes: number): void {
    this.queued += bytes;
    this.check();
  }

  /** The queued output was handed to the socket (which may have sent all of it at once). */
  readonly written = (): void => {
    this.queued = 0;
    if (this.held) this.resumeIfDrained();
    else this.check();
  };

  /** A write finished: everything may have been sent now. */
  readonly flushed = (): void => {
    if (this.held) this.resumeIfDrained();
  };

  /** Hold once the output is over the bound (call before reading more, too). */
  check(): void {
    if (this.held || this.socket.writableLength + this.queued <= this.limits.maxOutputBytes) return;
    this.held = true;
    this.socket.pause();
    this.handlers.onHold();
    this.timer = setTimeout(() => this.handlers.onStalled(), this.limits.stalledTimeoutMs);
  }

  /** Stop watching (the socket is closed). */
  dispose(): void {
    clearTimeout(this.timer);
    this.socket.off('drain', this.flushed);
  }

  private resumeIfDrained(): void {
    if (this.socket.writableLength > 0) return;
    this.held = false;
    clearTimeout(this.timer);
    this.socket.resume();
    this.handlers.onResume();
  }
}

import type { Socket } from 'node:net';

/** Limits of an {@link OutputGuard}. */
export interface OutputLimits {
  /** Unsent bytes above which the peer counts as backed up. */
  readonly maxOutputBytes: number;
  /** A peer backed up for this long is dropped. */
  readonly stalledTimeoutMs: number;
}

/** What the owner does as the peer's output backs up, drains, or stays stuck. */
export interface OutputHandlers {
  /** Output went over the bound: push nothing optional (deliveries, broadcasts) until {@link onResume}. */
  onHold(): void;
  /** The output drained. */
  onResume(): void;
  /** Still over the bound after the deadline: drop the peer. */
  onStalled(): void;
}

/**
 * Bounds what a server keeps unsent for one peer. Once the socket's unsent output passes `maxOutputBytes` the
 * owner is told to hold (and the socket stops being read, so requests stop producing replies); when it drains
 * completely everything flows again; if it has not drained within `stalledTimeoutMs` the owner is told to drop
 * the peer. Replies already queued are still written: the output can pass the bound by what one turn produces.
 */
export class OutputGuard {
  private held = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly limits: OutputLimits,
    private readonly handlers: OutputHandlers,
  ) {
    // 'drain' follows a write that found the buffer over its high-water mark, once everything is sent.
    socket.on('drain', this.onDrain);
  }

  /** Call after every write (and before reading more): holds once the output is over the bound. */
  check(): void {
    if (this.held || this.socket.writableLength <= this.limits.maxOutputBytes) return;
    this.held = true;
    this.socket.pause();
    this.handlers.onHold();
    this.timer = setTimeout(() => this.handlers.onStalled(), this.limits.stalledTimeoutMs);
  }

  /** Stop watching (the socket is closed). */
  dispose(): void {
    clearTimeout(this.timer);
    this.socket.off('drain', this.onDrain);
  }

  private readonly onDrain = (): void => {
    if (!this.held) return;
    this.held = false;
    clearTimeout(this.timer);
    this.socket.resume();
    this.handlers.onResume();
  };
}

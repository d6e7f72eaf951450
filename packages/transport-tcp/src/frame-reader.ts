import { FrameTooLargeError } from '@taskwire/core';

const EMPTY = Buffer.alloc(0);

/**
 * Splits a byte stream into length-prefixed frames (4-byte big-endian length, then the body).
 *
 * Chunks are kept in a list and copied once, only when a frame spans chunks, so a large frame
 * arriving in many chunks costs linear time. A length over the limit is refused as soon as its
 * four bytes arrive, before anything is buffered for it.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  /** Bytes buffered across `chunks`, from `offset` in the first one. */
  private buffered = 0;
  /** Read position in `chunks[0]`. */
  private offset = 0;
  /** Body length of the frame being read, or -1 while its header is incomplete. */
  private expected = -1;
  private stopped = false;

  /** @param maxFrameBytes Largest body accepted; raise it with {@link setLimit} after a handshake. */
  constructor(private maxFrameBytes: number) {}

  /** Change the largest body accepted from now on. */
  setLimit(maxFrameBytes: number): void {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Stop emitting frames (the connection is being closed) and drop what is buffered. */
  stop(): void {
    this.stopped = true;
    this.chunks = [];
    this.buffered = 0;
  }

  /**
   * Add a chunk and call `onFrame` for every frame it completes. `onFrame` may call {@link stop}.
   * @throws FrameTooLargeError when a header announces a body over the limit.
   */
  push(chunk: Buffer, onFrame: (body: Buffer) => void): void {
    if (this.stopped) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (!this.stopped) {
      if (this.expected < 0) {
        if (this.buffered < 4) return;
        const length = this.take(4).readUInt32BE(0);
        if (length > this.maxFrameBytes) {
          this.stop();
          throw new FrameTooLargeError(
            `frame of ${length} bytes exceeds the limit of ${this.maxFrameBytes} bytes`,
          );
        }
        this.expected = length;
      }
      if (this.buffered < this.expected) return;
      const body = this.take(this.expected);
      this.expected = -1;
      onFrame(body);
    }
  }

  /** Remove `n` buffered bytes: a view when they sit in one chunk, else one copy. */
  private take(n: number): Buffer {
    if (n === 0) return EMPTY;
    const first = this.chunks[0]!;
    this.buffered -= n;
    if (first.length - this.offset >= n) {
      const view = first.subarray(this.offset, this.offset + n);
      this.offset += n;
      if (this.offset === first.length) {
        this.chunks.shift();
        this.offset = 0;
      }
      return view;
    }
    const out = Buffer.allocUnsafe(n);
    let written = 0;
    while (written < n) {
      const chunk = this.chunks[0]!;
      const count = Math.min(n - written, chunk.length - this.offset);
      chunk.copy(out, written, this.offset, this.offset + count);
      written += count;
      this.offset += count;
      if (this.offset === chunk.length) {
        this.chunks.shift();
        this.offset = 0;
      }
    }
    return out;
  }
}

import { createWriteStream, type WriteStream } from 'node:fs';
import { ConfigError, type TaskResult } from '@taskwire/core';

/** JSON that also carries bigint (as a string) and Map (as entries). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Map) return [...v.entries()];
    if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
    return v;
  });
}

/** Writes one JSON result per line, in completion order, to a file or stdout (`-`). */
export class ResultWriter {
  private readonly stream: NodeJS.WritableStream;
  private failure: Error | undefined;
  private closed = false;

  private constructor(stream: NodeJS.WritableStream) {
    this.stream = stream;
    stream.on('error', (error: Error) => {
      this.failure = error;
    });
  }

  /** Open `target` (`-` = stdout); a file that cannot be written is a ConfigError, before any task. */
  static async open(target: string): Promise<ResultWriter> {
    if (target === '-') return new ResultWriter(process.stdout);
    const stream = createWriteStream(target);
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', (error: NodeJS.ErrnoException) =>
        reject(new ConfigError(`cannot write ${target}: ${error.code ?? error.message}`)),
      );
    });
    return new ResultWriter(stream);
  }

  /**
   * Write one result line; resolves when the stream can take more (backpressure). After
   * {@link close} it writes nothing: a stopped job closes its output while the tasks already
   * running may still answer, and a write after the end would fail the whole run.
   */
  async write(result: TaskResult): Promise<void> {
    if (this.closed) return;
    if (this.failure) throw this.failure;
    const line = toJson({
      input: result.payload,
      ok: result.ok,
      ...(result.ok ? { value: result.value } : { error: result.error }),
      attempt: result.attempt,
      worker: result.worker,
    });
    if (!this.stream.write(`${line}\n`)) await new Promise((resolve) => this.stream.once('drain', resolve));
  }

  /** Flush and close (stdout stays open). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.stream === process.stdout) return;
    await new Promise<void>((resolve, reject) => {
      (this.stream as WriteStream).end((error?: Error | null) => (error ? reject(error) : resolve()));
    });
  }
}

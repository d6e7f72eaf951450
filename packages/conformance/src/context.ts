import { randomBytes } from 'node:crypto';
import type { Connection, ConnectOptions } from '@taskwire/core';

/** Tolerances of the timed cases. Raise them for slow backends; never lower them below jitter. */
export interface ConformanceTiming {
  /** Slack allowed around every expected delay. @default 300 */
  toleranceMs?: number;
  /** Visibility timeout used by the expiry case. @default 600 */
  visibilityTimeoutMs?: number;
  /** Delay used by the delayed-put and delayed-nack cases. @default 400 */
  delayMs?: number;
}

/** Everything the suite needs from a transport's test file. */
export interface ConformanceOptions {
  /** Shown in the describe block, e.g. `redis`. */
  name: string;
  /** Open a fresh connection; `options` (e.g. `maxPayloadBytes`) must be honoured. */
  connect: (options?: ConnectOptions) => Promise<Connection>;
  /** The capabilities the transport declares; each gates its cases. */
  capabilities: import('@taskwire/core').Capabilities;
  /** Timing tolerances. */
  timing?: ConformanceTiming;
  /**
   * Delete the queues a case used (from the backend, not only purge). Called after every case
   * with every name the case declared, dead-letter queues included.
   */
  cleanup?: (queueNames: string[]) => Promise<void>;
}

/** Resolved timing. */
export type Timing = Required<ConformanceTiming>;

/** Per-case helpers: unique names and connections closed for you. */
export class CaseContext {
  private readonly connections: Connection[] = [];
  readonly queueNames: string[] = [];

  constructor(
    private readonly options: ConformanceOptions,
    private readonly prefix: string,
  ) {}

  /** A queue name no other case or run uses. */
  name(label: string): string {
    const name = `${this.prefix}.${label}`;
    this.queueNames.push(name);
    return name;
  }

  /** A connection closed after the case. */
  async connect(options?: ConnectOptions): Promise<Connection> {
    const connection = await this.options.connect(options);
    this.connections.push(connection);
    return connection;
  }

  /** @internal */
  async dispose(): Promise<void> {
    await Promise.allSettled(this.connections.map((connection) => connection.close()));
    if (this.options.cleanup) {
      await this.options.cleanup([...new Set(this.queueNames)]);
    }
  }
}

/** A prefix unique to this run of the suite. */
export function runPrefix(): string {
  return `twc-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** Resolve after `ms`. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Resolve with the value of `promise`, or reject with a clear message after `ms` (so a broken
 * transport fails a case instead of hanging it).
 */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

import { randomBytes } from 'node:crypto';
import type { Capabilities, Connection, ConnectOptions } from '@taskwire/core';

/** Tolerances of the timed cases. Raise them for slow backends; never lower them below jitter. */
export interface ConformanceTiming {
  /** Slack allowed around every expected delay. @default 300 */
  toleranceMs?: number;
  /** Visibility timeout used by the expiry case. @default 600 */
  visibilityTimeoutMs?: number;
  /** Delay used by the delayed-put and delayed-nack cases. @default 400 */
  delayMs?: number;
}

/** Everything every group needs from a transport's test file. */
export interface BaseConformanceOptions {
  /** Shown in the describe block, e.g. `redis`. */
  name: string;
  /** Open a fresh connection; `options` (e.g. `maxPayloadBytes`) must be honoured. */
  connect: (options?: ConnectOptions) => Promise<Connection>;
  /** The capabilities the transport declares; each gates its cases. */
  capabilities: Capabilities;
  /** Timing tolerances. */
  timing?: ConformanceTiming;
  /**
   * Delete the queues a case used (from the backend, not only purge). Called after every case
   * with every name the case declared, dead-letter queues included.
   */
  cleanup?: (queueNames: string[]) => Promise<void>;
}

/**
 * Store `bytes` on queue `queue` as the payload of one ready item, behind the transport's back (a
 * raw backend client, the engine, the wire): how the suite plants a payload that is not msgpack.
 * The queue has been declared by the suite first; the item must be served like any other put.
 */
export type RawPut = (queue: string, bytes: Uint8Array) => Promise<void>;

/** How the suite injects faults into a transport (see the README's "Fault injection"). */
export interface FaultInjection {
  /**
   * Drop `connection`'s link to the backend without a goodbye, the way a network failure or a
   * killed peer does: destroy its sockets (a {@link FaultProxy} in front of the backend does this
   * for any socket-based transport) or kill the client's stream. An in-process transport with no
   * link to cut ends the connection instead (and says `reconnects: false`).
   */
  breakConnection: (connection: Connection) => void | Promise<void>;
  /**
   * True when a broken connection comes back by itself (its queue handles, consumers and
   * subscriptions work again); false when a break ends it for good (every later operation rejects
   * with `ConnectionClosedError`).
   */
  reconnects: boolean;
  /**
   * The transport's documented bound, for the options `connect` below uses: within this many ms of
   * a break the connection is back (when it reconnects) and the deliveries it held are served again
   * with their attempt counted. Every wait of the fault cases is bounded by it.
   */
  recoveryMs: number;
  /**
   * Connections of the fault cases (the ones broken and their peers). Defaults to the suite's
   * `connect`; give it when breaking needs a proxy or short reconnect delays and lease times.
   */
  connect?: (options?: ConnectOptions) => Promise<Connection>;
  /**
   * Restart the backend that {@link FaultInjection.connectRestartable} reaches: stop it without
   * warning and start it again on the same address with whatever it keeps across a restart. Only
   * a private instance the test itself started: never a shared broker. Required when the transport
   * declares `persistent` (the only way to check that promise).
   */
  restartBackend?: () => Promise<void>;
  /** Connections to the backend `restartBackend` restarts. @default connect */
  connectRestartable?: (options?: ConnectOptions) => Promise<Connection>;
}

/** Everything the whole suite needs from a transport's test file. */
export interface ConformanceOptions extends BaseConformanceOptions {
  /** Plants undecodable payloads for the dead-letter group. */
  rawPut: RawPut;
  /** Fault injection for the faults and persistence groups. */
  faults: FaultInjection;
}

/** Resolved timing. */
export type Timing = Required<ConformanceTiming>;

/** Per-case helpers: unique names and connections closed for you. */
export class CaseContext {
  private readonly connections: Connection[] = [];
  readonly queueNames: string[] = [];

  constructor(
    private readonly options: BaseConformanceOptions,
    private readonly prefix: string,
    private readonly open: (options?: ConnectOptions) => Promise<Connection> = options.connect,
  ) {}

  /** A queue name no other case or run uses. */
  name(label: string): string {
    const name = `${this.prefix}.${label}`;
    this.queueNames.push(name);
    return name;
  }

  /** A connection closed after the case. */
  async connect(options?: ConnectOptions): Promise<Connection> {
    const connection = await this.open(options);
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

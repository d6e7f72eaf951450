import { EventEmitter } from 'node:events';
import { UnsupportedError } from '../errors.js';
import type { Connection, Subscription } from '../types.js';

/** The broadcast channel every worker announces itself on, whatever its queue. */
export const WORKERS_CHANNEL = 'taskwire.workers';

/** Heartbeat period of a worker that does not choose one. */
export const DEFAULT_HEARTBEAT_MS = 5_000;

/** Most running tasks one heartbeat lists (a worker with a huge concurrency still sends a small message). */
const RUNNING_LISTED = 100;

/** One task a worker is running. */
export interface RunningTask {
  /** The task's id. */
  readonly id: string;
  /** The handler name the task asked for. */
  readonly kind: string;
  /** The attempt being run (1 on the first). */
  readonly attempt: number;
  /** When this attempt started (epoch ms, the worker's clock). */
  readonly startedAt: number;
}

/** What a live worker says about itself in every heartbeat. */
export interface WorkerInfo {
  /** Unique per worker process and start (a name can be reused). */
  readonly id: string;
  /** The worker's name (`<hostname>:<pid>` unless it chose one). */
  readonly name: string;
  readonly host: string;
  readonly pid: number;
  /** The task queue it takes from. */
  readonly queue: string;
  /** Tasks it runs at once. */
  readonly concurrency: number;
  /** The transport's name (`tcp`, `redis`, …). */
  readonly transport: string;
  /** When it started (epoch ms). */
  readonly startedAt: number;
  /** When this heartbeat was sent (epoch ms, the worker's clock). */
  readonly heartbeatAt: number;
  /** Its heartbeat period: it is taken for dead after three periods without one. */
  readonly heartbeatMs: number;
  /** Tasks it finished with a successful result. */
  readonly tasksDone: number;
  /** Tasks it finished with a failed result (every attempt failed). */
  readonly tasksFailed: number;
  /** What it is running now (at most 100 listed). */
  readonly running: readonly RunningTask[];
  /** `stopping` once it stopped taking tasks and is finishing the running ones. */
  readonly state: 'running' | 'stopping';
}

/** A message on {@link WORKERS_CHANNEL}. */
type PresenceMessage =
  | { readonly type: 'heartbeat'; readonly worker: WorkerInfo }
  | { readonly type: 'gone'; readonly id: string }
  | { readonly type: 'ping' };

function isPresenceMessage(value: unknown): value is PresenceMessage {
  const message = value as PresenceMessage | null;
  if (typeof message !== 'object' || message === null) return false;
  switch (message.type) {
    case 'heartbeat':
      return (
        typeof message.worker === 'object' && message.worker !== null && typeof message.worker.id === 'string'
      );
    case 'gone':
      return typeof message.id === 'string';
    case 'ping':
      return true;
    default:
      return false;
  }
}

/** Cap the running list so one heartbeat stays small. */
export function listRunning(running: Iterable<RunningTask>): RunningTask[] {
  const listed: RunningTask[] = [];
  for (const task of running) {
    if (listed.length === RUNNING_LISTED) break;
    listed.push(task);
  }
  return listed;
}

/**
 * A worker's side of presence: a heartbeat on {@link WORKERS_CHANNEL} every `heartbeatMs`, one at once when a
 * {@link WorkerDirectory} asks (a ping), and a goodbye on stop. A no-op on transports without `broadcast`. A
 * heartbeat that cannot be sent (the backend is down) is skipped: the next one says the same, newer.
 */
export class PresenceAnnouncer {
  private timer: NodeJS.Timeout | undefined;
  private subscription: Subscription | undefined;
  private starting: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly connection: Connection,
    private readonly snapshot: () => WorkerInfo,
    private readonly heartbeatMs: number,
  ) {}

  /**
   * Announce now and every `heartbeatMs`, and answer pings. A worker does not wait for it: its tasks flow while
   * the subscription is made.
   */
  start(): Promise<void> {
    this.starting ??= this.subscribe();
    return this.starting;
  }

  private async subscribe(): Promise<void> {
    if (!this.connection.transport.capabilities.broadcast || this.heartbeatMs === 0) return;
    const subscription = await this.connection.subscribe(WORKERS_CHANNEL, (message) => {
      if (isPresenceMessage(message) && message.type === 'ping') this.announce();
    });
    if (this.stopped) {
      await subscription.unsubscribe().catch(() => {});
      return;
    }
    this.subscription = subscription;
    this.announce();
    this.timer = setInterval(() => this.announce(), this.heartbeatMs);
    // Heartbeats never keep a process alive that has nothing else to do.
    this.timer.unref();
  }

  /** Send one heartbeat now. */
  announce(): void {
    if (this.stopped || !this.subscription) return;
    const message: PresenceMessage = { type: 'heartbeat', worker: this.snapshot() };
    this.connection.publish(WORKERS_CHANNEL, message).catch(() => {});
  }

  /** Stop the heartbeats and say goodbye, so directories drop this worker at once. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    // A subscription still being made sees `stopped` and is undone there: never wait for a backend here.
    this.stopped = true;
    clearInterval(this.timer);
    if (!this.subscription) return;
    await this.subscription.unsubscribe().catch(() => {});
    const goodbye: PresenceMessage = { type: 'gone', id: this.snapshot().id };
    await this.connection.publish(WORKERS_CHANNEL, goodbye).catch(() => {});
  }
}

/** Options of {@link WorkerDirectory.watch}. */
export interface WorkerDirectoryOptions {
  /**
   * Drop a worker not heard from for this long. @default three of the worker's own heartbeat periods (15 s for
   * a worker with the default 5 s)
   */
  staleAfterMs?: number;
}

/** Events of a {@link WorkerDirectory}. */
export interface WorkerDirectoryEvents {
  /** A worker appeared, sent a heartbeat, left or was dropped as dead. */
  change: [];
}

interface Heard {
  readonly worker: WorkerInfo;
  /** This process's clock, so a worker's clock skew cannot keep it alive or kill it. */
  readonly heardAt: number;
}

/**
 * The live workers of every queue on a connection, as their heartbeats tell: what `taskwire workers` and the
 * dashboard show. A worker that stops says goodbye and leaves at once; one that dies is dropped after three of its
 * heartbeat periods without one (15 s by default). Needs the `broadcast` capability.
 *
 * @example
 * ```ts
 * const directory = await WorkerDirectory.watch(connection);
 * directory.on('change', () => console.log(directory.list().map((worker) => worker.name)));
 * // …
 * await directory.close();
 * ```
 */
export class WorkerDirectory extends EventEmitter<WorkerDirectoryEvents> {
  private readonly workers = new Map<string, Heard>();
  private subscription: Subscription | undefined;
  private sweeper: NodeJS.Timeout | undefined;

  private constructor(
    private readonly connection: Connection,
    private readonly staleAfterMs: number | undefined,
  ) {
    super();
  }

  /** Start listening and ask every worker to announce itself at once. */
  static async watch(connection: Connection, options: WorkerDirectoryOptions = {}): Promise<WorkerDirectory> {
    if (!connection.transport.capabilities.broadcast) {
      throw new UnsupportedError(
        `the ${connection.transport.name} transport has no broadcast, which live workers are announced by`,
      );
    }
    const directory = new WorkerDirectory(connection, options.staleAfterMs);
    await directory.start();
    return directory;
  }

  /**
   * The workers alive now, heard within `waitMs` of asking (1 s by default, the time Celery's `inspect` waits for
   * replies), then stop listening.
   */
  static async list(connection: Connection, waitMs = 1_000): Promise<WorkerInfo[]> {
    const directory = await WorkerDirectory.watch(connection);
    try {
      await new Promise((resolve) => setTimeout(resolve, waitMs));
      return directory.list();
    } finally {
      await directory.close();
    }
  }

  /** The live workers, by queue then name. */
  list(): WorkerInfo[] {
    this.sweep();
    return [...this.workers.values()]
      .map((heard) => heard.worker)
      .sort(
        (a, b) => a.queue.localeCompare(b.queue) || a.name.localeCompare(b.name) || a.id.localeCompare(b.id),
      );
  }

  /** Stop listening. */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await this.subscription?.unsubscribe();
    this.subscription = undefined;
  }

  private async start(): Promise<void> {
    this.subscription = await this.connection.subscribe(WORKERS_CHANNEL, (message) => this.hear(message));
    this.sweeper = setInterval(() => this.sweep(), 1_000);
    this.sweeper.unref();
    const ping: PresenceMessage = { type: 'ping' };
    await this.connection.publish(WORKERS_CHANNEL, ping);
  }

  private hear(message: unknown): void {
    if (!isPresenceMessage(message)) return;
    if (message.type === 'heartbeat') {
      this.workers.set(message.worker.id, { worker: message.worker, heardAt: Date.now() });
      this.emit('change');
    } else if (message.type === 'gone' && this.workers.delete(message.id)) {
      this.emit('change');
    }
  }

  private sweep(): void {
    const now = Date.now();
    let dropped = false;
    for (const [id, heard] of this.workers) {
      const staleAfterMs = this.staleAfterMs ?? 3 * heard.worker.heartbeatMs;
      if (now - heard.heardAt > staleAfterMs) {
        this.workers.delete(id);
        dropped = true;
      }
    }
    if (dropped) this.emit('change');
  }
}

import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Connection, ConsumerHandle, DistributedQueue, QueueOptions } from '../types.js';
import { checkTaskTimeout } from './attempt.js';
import { announceDeparture } from './departure.js';
import type { TaskEnvelope, TaskResult } from './envelope.js';
import { MapStream } from './map-stream.js';
import { broadcastChannelOf, DEFAULT_TASK_QUEUE, taskQueueOptions } from './names.js';
import { readResult, readTask, type TaskTuple, taskToWire } from './task-wire.js';
import { TracingSlot } from './tracing.js';

/** Options of {@link Master}. */
export interface MasterOptions {
  /** An open connection; the master does not close it. */
  connection: Connection;
  /** Task queue name. @default 'tasks' */
  queue?: string;
  /** Extra options of the task queue (workers must use the same). */
  queueOptions?: QueueOptions;
  /** Handler name put on tasks that do not name one. @default 'default' */
  kind?: string;
  /** Attempts per task before it fails. @default 3 */
  maxAttempts?: number;
  /**
   * Name of this master's result queue. Each master has its own, so many masters can share one
   * backend. @default `<queue>.results.<random id>`
   */
  resultQueue?: string;
  /**
   * Wrap each submit in an OpenTelemetry span and send its trace context with the task, when
   * `@opentelemetry/api` is installed and a tracer provider registered. @default true
   */
  tracing?: boolean;
}

/** Options of one submitted task. */
export interface SubmitOptions {
  /** Which handler runs it. @default the master's `kind` */
  kind?: string;
  /** Attempts before it fails for good. @default the master's `maxAttempts` */
  maxAttempts?: number;
  /** 0–255 on a priority queue. */
  priority?: number;
  /** Longest one attempt may run, in ms (1 to 2³¹−1); overrides the worker's `taskTimeoutMs`. */
  timeoutMs?: number;
}

/** Options of {@link Master.map}. */
export interface MapOptions extends SubmitOptions {
  /** Most tasks outstanding at once; the input is read no faster than results come back. @default 1000 */
  window?: number;
  /** When aborted, read no more input: the tasks already submitted still yield their results. */
  signal?: AbortSignal;
}

/** Counters reported by the `progress` event. */
export interface MasterProgress {
  submitted: number;
  done: number;
  failed: number;
  /** Results per second since the first submit. */
  rate: number;
}

/** Events a {@link Master} emits. */
export interface MasterEvents {
  submitted: [task: TaskEnvelope];
  done: [result: TaskResult];
  failed: [result: TaskResult];
  progress: [progress: MasterProgress];
}

interface Pending {
  resolve(result: TaskResult): void;
  payload: unknown;
}

/**
 * The submitting side: puts tasks on the task queue and matches results (by task id) from its own
 * result queue. A result that arrives twice (a redelivered task that ran twice) is delivered once.
 *
 * @example
 * ```ts
 * const master = await Master.start({ connection });
 * const result = await master.submit(21);               // { ok: true, value: 441, … }
 * for await (const r of master.map(numbers(), { window: 500 })) console.log(r.value);
 * ```
 */
export class Master extends EventEmitter<MasterEvents> {
  readonly queueName: string;
  readonly resultQueueName: string;
  private readonly connection: Connection;
  private readonly kind: string;
  private readonly maxAttempts: number;
  private readonly queueOptions: QueueOptions;
  private readonly pending = new Map<string, Pending>();
  private tasks!: DistributedQueue<TaskTuple>;
  private results!: DistributedQueue<unknown>;
  private consumer: ConsumerHandle | undefined;
  private readonly counters = { submitted: 0, done: 0, failed: 0 };
  private firstSubmitAt = 0;
  private readonly idPrefix: string;
  private taskCounter = 0;
  private readonly tracing: TracingSlot;

  constructor(options: MasterOptions) {
    super();
    this.connection = options.connection;
    this.queueName = options.queue ?? DEFAULT_TASK_QUEUE;
    this.queueOptions = taskQueueOptions(this.queueName, options.queueOptions);
    this.kind = options.kind ?? 'default';
    this.maxAttempts = options.maxAttempts ?? 3;
    this.resultQueueName = options.resultQueue ?? `${this.queueName}.results.${randomUUID().slice(0, 12)}`;
    // Task ids: a random per-master prefix and a counter. Unique across masters sharing a backend,
    // and a third of a UUID's bytes on every task and result.
    this.idPrefix = `${randomBytes(6).toString('base64url')}.`;
    this.tracing = new TracingSlot(options.tracing ?? true);
  }

  /** Create a master and start listening for results. */
  static async start(options: MasterOptions): Promise<Master> {
    const master = new Master(options);
    await master.start();
    return master;
  }

  /** Declare the queues and start consuming results. */
  async start(): Promise<void> {
    await this.tracing.start();
    this.tasks = await this.connection.queue<TaskTuple>(this.queueName, this.queueOptions);
    this.results = await this.connection.queue(this.resultQueueName);
    this.consumer = await this.results.consume(
      (delivery) => {
        const result = readResult(delivery.body);
        if (result) this.settle(result);
        return delivery.ack();
      },
      { prefetch: 1000 },
    );
  }

  /** Current counters. */
  get progress(): MasterProgress {
    const elapsed = this.firstSubmitAt ? (Date.now() - this.firstSubmitAt) / 1000 : 0;
    const finished = this.counters.done + this.counters.failed;
    return { ...this.counters, rate: elapsed > 0 ? finished / elapsed : 0 };
  }

  /** Tasks submitted whose result has not arrived. */
  get outstanding(): number {
    return this.pending.size;
  }

  /** Submit one task; resolves with its result (failed results resolve too, with `ok: false`). */
  async submit<R = unknown, P = unknown>(payload: P, options: SubmitOptions = {}): Promise<TaskResult<R, P>> {
    let resolve!: (result: TaskResult) => void;
    const result = new Promise<TaskResult>((r) => {
      resolve = r;
    });
    await this.submitBatch([payload], options, resolve);
    return (await result) as TaskResult<R, P>;
  }

  /**
   * Run every payload of `input` (sync or async iterable; read lazily) and yield results in
   * completion order, keeping at most `window` tasks outstanding so any input size streams in
   * constant memory.
   */
  map<R = unknown, P = unknown>(
    input: Iterable<P> | AsyncIterable<P>,
    options: MapOptions = {},
  ): AsyncGenerator<TaskResult<R, P>> {
    return new MapStream<R, P>(
      input,
      { window: options.window ?? 1000, signal: options.signal },
      (payloads, onResult) => this.submitBatch(payloads, options, onResult),
    );
  }

  /** Send `payload` to every worker currently listening (transports with `broadcast`). */
  async broadcast<P>(payload: P, options: SubmitOptions = {}): Promise<void> {
    await this.connection.publish(
      broadcastChannelOf(this.queueName),
      taskToWire(this.envelope(payload, options)),
    );
  }

  /**
   * Stop consuming results and delete this master's result queue (where the transport can), so
   * finished jobs leave nothing behind on a shared broker. Outstanding submits stay unresolved;
   * the connection stays open.
   */
  async close(): Promise<void> {
    await this.consumer?.cancel();
    this.consumer = undefined;
    this.tracing.current?.abandoned(
      this.tracing.current.openTaskIds,
      new Error('the master closed before the result arrived'),
    );
    await this.results?.delete();
    // Workers drop whatever of ours is still queued and let go of our deleted result queue. A
    // courtesy: a connection too broken to publish it must not fail close().
    if (this.tasks) {
      await announceDeparture(this.connection, this.queueName, this.resultQueueName).catch(() => undefined);
    }
    await this.tasks?.close();
  }

  private nextTaskId(): string {
    return this.idPrefix + (++this.taskCounter).toString(36);
  }

  private envelope<P>(payload: P, options: SubmitOptions): TaskEnvelope<P> {
    const task: TaskEnvelope<P> = {
      id: this.nextTaskId(),
      kind: options.kind ?? this.kind,
      payload,
      maxAttempts: options.maxAttempts ?? this.maxAttempts,
      replyTo: this.resultQueueName,
      createdAt: Date.now(),
    };
    if (options.timeoutMs !== undefined) task.timeoutMs = options.timeoutMs;
    if (options.priority !== undefined) task.priority = options.priority;
    return task;
  }

  /** Put a batch of tasks in one call; `onResult` is called once per task with its result. */
  private async submitBatch<P>(
    payloads: P[],
    options: SubmitOptions,
    onResult: (result: TaskResult) => void,
  ) {
    if (!this.consumer) throw new Error('call start() before submitting tasks');
    checkTaskTimeout(options.timeoutMs, 'timeoutMs');
    const tuples: TaskTuple[] = new Array(payloads.length);
    // One shared callback per batch rather than a promise per task: map() runs millions of tasks.
    // Plain tasks go straight to the wire form: no envelope object per task, one clock read per batch.
    // Traced tasks carry their span's context: built as envelopes, checked once per batch.
    const tracing = this.tracing.get();
    const traced = tracing?.recording ? tracing : undefined;
    const plain = options.timeoutMs === undefined && options.priority === undefined && !traced;
    const kind = options.kind ?? this.kind;
    const maxAttempts = options.maxAttempts ?? this.maxAttempts;
    const createdAt = Date.now();
    for (let i = 0; i < payloads.length; i++) {
      const payload = payloads[i];
      const tuple: TaskTuple = plain
        ? [this.nextTaskId(), kind, payload, maxAttempts, this.resultQueueName, createdAt]
        : taskToWire(
            traced
              ? traced.submitted(this.envelope(payload, options), this.queueName)
              : this.envelope(payload, options),
          );
      tuples[i] = tuple;
      this.pending.set(tuple[0], { resolve: onResult, payload });
    }
    try {
      if (tuples.length === 1) await this.tasks.put(tuples[0]!, { priority: options.priority });
      else await this.tasks.putMany(tuples, { priority: options.priority });
    } catch (error) {
      for (const tuple of tuples) this.pending.delete(tuple[0]);
      traced?.abandoned(
        tuples.map((tuple) => tuple[0]),
        error as Error,
      );
      throw error;
    }
    if (!this.firstSubmitAt) this.firstSubmitAt = Date.now();
    this.counters.submitted += tuples.length;
    if (this.listenerCount('submitted') > 0)
      for (const tuple of tuples) this.emit('submitted', readTask(tuple)!);
  }

  private settle(result: TaskResult): void {
    const pending = this.pending.get(result.taskId);
    if (!pending) return; // a duplicate of a result already delivered
    this.pending.delete(result.taskId);
    this.tracing.current?.settled(result);
    result.payload = pending.payload;
    if (result.ok) this.counters.done++;
    else this.counters.failed++;
    this.emit(result.ok ? 'done' : 'failed', result);
    if (this.listenerCount('progress') > 0) this.emit('progress', this.progress);
    pending.resolve(result);
  }
}

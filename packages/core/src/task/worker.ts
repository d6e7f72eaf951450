import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type {
  Connection,
  ConsumerHandle,
  Delivery,
  DistributedQueue,
  QueueOptions,
  Subscription,
} from '../types.js';
import { type BackoffOptions, backoffDelay } from './backoff.js';
import { DepartedMasters, isDepartureNotice } from './departure.js';
import { errorInfo, isTaskEnvelope, type TaskEnvelope, type TaskResult } from './envelope.js';
import { broadcastChannelOf, DEFAULT_TASK_QUEUE, taskQueueOptions } from './names.js';
import { ResultSender } from './result-sender.js';

/** What a handler gets besides the payload. */
export interface TaskContext {
  /** The task's id. */
  taskId: string;
  /** The handler name the task asked for. */
  kind: string;
  /** 1 on the first attempt. */
  attempt: number;
  /** Attempts allowed in all. */
  maxAttempts: number;
  /** This worker's name. */
  worker: string;
  /** True when the task came by broadcast (every worker runs it). */
  broadcast: boolean;
}

/** Runs one task. Throw (or reject) to fail the attempt. */
export type TaskHandler<P = any, R = unknown> = (payload: P, context: TaskContext) => R | Promise<R>;

/** Options of {@link Worker}. */
export interface WorkerOptions {
  /** An open connection; the worker does not close it. */
  connection: Connection;
  /** The handler for every kind, or one handler per kind. */
  handler: TaskHandler | Record<string, TaskHandler>;
  /** Task queue name. @default 'tasks' */
  queue?: string;
  /** Extra options of the task queue (the master must use the same). */
  queueOptions?: QueueOptions;
  /** Tasks run at once. @default 16 */
  concurrency?: number;
  /**
   * Unsettled deliveries held at once (running, waiting, and awaiting their result's round trip).
   * Large enough to cover a round trip keeps fast tasks streaming; lower it for long tasks so
   * one worker does not hoard work others could run. @default max(concurrency × 4, 256)
   */
  prefetch?: number;
  /** Delay between attempts. */
  backoff?: BackoffOptions;
  /** Name reported in results. @default `<hostname>:<pid>` */
  name?: string;
}

/** Events a {@link Worker} emits. */
export interface WorkerEvents {
  completed: [result: TaskResult];
  failed: [result: TaskResult];
  retrying: [task: TaskEnvelope, attempt: number, delayMs: number, error: Error];
  poison: [delivery: Delivery<unknown>];
  error: [error: Error];
  idle: [];
}

/**
 * The working side: takes tasks, runs the handler, sends results to each task's master. A failed
 * attempt is retried after an exponential backoff with jitter until `maxAttempts`; then a failed
 * result goes to the master and the task to the dead-letter queue. A task is acked only after its
 * result was accepted by the backend, so a crash at any point loses nothing (it may run twice;
 * the master delivers one result).
 *
 * @example
 * ```ts
 * const worker = await Worker.start({ connection, handler: (n: number) => n * n, concurrency: 8 });
 * worker.handleSignals(); // SIGINT/SIGTERM: finish in-flight tasks, then exit 0
 * ```
 */
export class Worker extends EventEmitter<WorkerEvents> {
  readonly name: string;
  readonly queueName: string;
  private readonly connection: Connection;
  private readonly handlers: TaskHandler | Record<string, TaskHandler>;
  private readonly concurrency: number;
  private readonly prefetch: number;
  private readonly backoff: BackoffOptions;
  private readonly queueOptions: QueueOptions;
  private readonly running = new Set<Promise<void>>();
  private readonly settling = new Set<Promise<void>>();
  private readonly waiting: Delivery<unknown>[] = [];
  private tasks!: DistributedQueue<unknown>;
  private sender!: ResultSender;
  private consumer: ConsumerHandle | undefined;
  private subscription: Subscription | undefined;
  private stopping: Promise<void> | undefined;
  private lastActivity = Date.now();
  /** Masters heard leaving: their tasks are acked and dropped, unrun and unanswered. */
  private readonly departed = new DepartedMasters();

  constructor(options: WorkerOptions) {
    super();
    this.connection = options.connection;
    this.handlers = options.handler;
    this.queueName = options.queue ?? DEFAULT_TASK_QUEUE;
    this.queueOptions = taskQueueOptions(this.queueName, options.queueOptions);
    this.concurrency = options.concurrency ?? 16;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) {
      throw new TypeError('concurrency must be an integer ≥ 1');
    }
    this.prefetch = options.prefetch ?? Math.max(this.concurrency * 4, 256);
    this.backoff = options.backoff ?? {};
    this.name = options.name ?? `${hostname()}:${process.pid}`;
  }

  /** Create a worker and start taking tasks. */
  static async start(options: WorkerOptions): Promise<Worker> {
    const worker = new Worker(options);
    await worker.start();
    return worker;
  }

  /** Milliseconds since a task last arrived or finished. */
  get idleMs(): number {
    const busy = this.running.size > 0 || this.waiting.length > 0 || this.settling.size > 0;
    return busy ? 0 : Date.now() - this.lastActivity;
  }

  /** Declare the task queue and start consuming (and listening for broadcasts where supported). */
  async start(): Promise<void> {
    this.tasks = await this.connection.queue(this.queueName, this.queueOptions);
    this.sender = new ResultSender(this.connection);
    this.consumer = await this.tasks.consume((delivery) => this.accept(delivery), {
      prefetch: this.prefetch,
    });
    if (this.connection.transport.capabilities.broadcast) {
      this.subscription = await this.connection.subscribe(broadcastChannelOf(this.queueName), (task) => {
        if (isDepartureNotice(task)) {
          this.departed.add(task.departed);
          this.sender.forget(task.departed);
        } else if (isTaskEnvelope(task)) void this.runBroadcast(task);
      });
    }
  }

  /**
   * Stop taking tasks, finish the running ones and send their results, and give back (requeue)
   * tasks fetched but not started. Resolves when nothing is in flight.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.consumer?.cancel();
      await this.subscription?.unsubscribe();
      for (const delivery of this.waiting.splice(0)) await delivery.nack({ requeue: true });
      while (this.running.size > 0 || this.settling.size > 0) {
        await Promise.allSettled([...this.running, ...this.settling]);
      }
      await this.sender?.flush();
    })();
    return this.stopping;
  }

  /**
   * On the first SIGINT or SIGTERM: {@link stop}, then `exit(0)`. A second signal exits at once
   * with code 130.
   */
  handleSignals(exit: (code: number) => void = (code) => process.exit(code)): void {
    let signalled = false;
    const onSignal = () => {
      if (signalled) return exit(130);
      signalled = true;
      this.stop().then(
        () => exit(0),
        (error: Error) => {
          this.report(error);
          exit(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }

  private accept(delivery: Delivery<unknown>): void {
    this.lastActivity = Date.now();
    if (this.stopping) {
      void delivery.nack({ requeue: true });
      return;
    }
    this.waiting.push(delivery);
    this.pump();
  }

  private pump(): void {
    while (this.running.size < this.concurrency && this.waiting.length > 0) {
      const delivery = this.waiting.shift()!;
      // A concurrency slot is held only while the handler runs. Sending the result and acking
      // (a round trip) happen outside it, or each slot would idle for one round trip per task.
      const run: Promise<void> = this.execute(delivery)
        .then((settle) => this.track(settle()))
        .catch((error: Error) => this.report(error))
        .finally(() => {
          this.running.delete(run);
          this.lastActivity = Date.now();
          this.pump();
          this.emitIdleIfDone();
        });
      this.running.add(run);
    }
  }

  private track(settling: Promise<void>): void {
    const tracked: Promise<void> = settling
      .catch((error: Error) => this.report(error))
      .finally(() => {
        this.settling.delete(tracked);
        this.emitIdleIfDone();
      });
    this.settling.add(tracked);
  }

  private emitIdleIfDone(): void {
    if (this.running.size === 0 && this.waiting.length === 0 && this.settling.size === 0) this.emit('idle');
  }

  private handlerFor(kind: string): TaskHandler | undefined {
    if (typeof this.handlers === 'function') return this.handlers;
    return Object.hasOwn(this.handlers, kind) ? this.handlers[kind] : undefined;
  }

  /** Run the handler; resolves with what remains to do (send the result, settle the delivery). */
  private async execute(delivery: Delivery<unknown>): Promise<() => Promise<void>> {
    const task = delivery.body;
    if (!isTaskEnvelope(task)) {
      // Not a task at all: retrying cannot help, so dead-letter it.
      this.emit('poison', delivery);
      return () => delivery.nack({ requeue: false });
    }
    if (this.departed.has(task.replyTo)) return () => delivery.ack(); // its master has left
    const attempt = delivery.attempt;
    const startedAt = Date.now();
    const handler = this.handlerFor(task.kind);
    let outcome: { ok: true; value: unknown } | { ok: false; error: Error };
    if (!handler) {
      outcome = {
        ok: false,
        error: Object.assign(new Error(`no handler for task kind "${task.kind}"`), {
          name: 'UnknownKindError',
        }),
      };
    } else {
      try {
        const context = {
          taskId: task.id,
          kind: task.kind,
          attempt,
          maxAttempts: task.maxAttempts,
          worker: this.name,
          broadcast: false,
        };
        outcome = { ok: true, value: await handler(task.payload, context) };
      } catch (error) {
        outcome = { ok: false, error: error instanceof Error ? error : new Error(String(error)) };
      }
    }
    if (!outcome.ok && handler && attempt < task.maxAttempts) {
      const delayMs = backoffDelay(attempt, this.backoff);
      this.emit('retrying', task, attempt, delayMs, outcome.error);
      return () => delivery.nack({ requeue: true, delayMs });
    }
    const result: TaskResult = {
      taskId: task.id,
      ok: outcome.ok,
      ...(outcome.ok ? { value: outcome.value } : { error: errorInfo(outcome.error) }),
      worker: this.name,
      attempt,
      startedAt,
      finishedAt: Date.now(),
    };
    return async () => {
      // A master that left meanwhile deleted its result queue: a result would recreate it.
      if (this.departed.has(task.replyTo)) return delivery.ack();
      await this.sender.send(task.replyTo, result);
      // A final failure goes to the dead-letter queue once its master has the failed result.
      if (result.ok) await delivery.ack();
      else await delivery.nack({ requeue: false });
      this.emit(result.ok ? 'completed' : 'failed', result);
    };
  }

  private async runBroadcast(task: TaskEnvelope): Promise<void> {
    const handler = this.handlerFor(task.kind);
    const startedAt = Date.now();
    const base = { taskId: task.id, worker: this.name, attempt: 1, startedAt };
    let result: TaskResult;
    try {
      if (!handler) throw new Error(`no handler for task kind "${task.kind}"`);
      const context = {
        taskId: task.id,
        kind: task.kind,
        attempt: 1,
        maxAttempts: 1,
        worker: this.name,
        broadcast: true,
      };
      result = { ...base, ok: true, value: await handler(task.payload, context), finishedAt: Date.now() };
    } catch (error) {
      result = { ...base, ok: false, error: errorInfo(error), finishedAt: Date.now() };
    }
    await this.sender.send(task.replyTo, result).catch((error: Error) => this.report(error));
  }

  /**
   * A failure outside any handler (a result or ack the backend refused). The delivery is then
   * redelivered by the backend, so this is reported, never thrown: an unhandled 'error' event
   * would crash the worker.
   */
  private report(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else process.emitWarning(error);
  }
}

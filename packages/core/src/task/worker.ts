import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { type BackoffOptions, backoffDelay } from '../backoff.js';
import { WorkerLostError } from '../errors.js';
import type {
  Connection,
  ConsumerHandle,
  Delivery,
  DistributedQueue,
  QueueOptions,
  Subscription,
} from '../types.js';
import { AttemptContext, type AttemptOutcome, checkTaskTimeout, runAttempt, runUntimed } from './attempt.js';
import { DepartedMasters, isDepartureNotice } from './departure.js';
import type { TaskEnvelope, TaskResult } from './envelope.js';
import { errorInfo, type TaskErrorInfo } from './error-info.js';
import { broadcastChannelOf, DEFAULT_TASK_QUEUE, taskQueueOptions } from './names.js';
import {
  DEFAULT_HEARTBEAT_MS,
  listRunning,
  PresenceAnnouncer,
  type RunningTask,
  type WorkerInfo,
} from './presence.js';
import { ResultSender, type SentReceiver } from './result-sender.js';
import { readTask, taskToWire } from './task-wire.js';
import { TracingSlot } from './tracing.js';

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
  /**
   * Aborted when the attempt times out (its `reason` is a `TaskTimeoutError`). A handler that does I/O or long
   * loops should pass it on or check it, so a timed-out attempt stops working.
   */
  readonly signal: AbortSignal;
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
   * one worker does not hoard work others could run. @default max(concurrency × 4, the transport's
   * `recommendedPrefetch` or 256)
   */
  prefetch?: number;
  /** Delay between attempts. */
  backoff?: BackoffOptions;
  /**
   * Longest one attempt may run, in ms (1 to 2³¹−1); a task's own `timeoutMs` overrides it. A timed-out attempt
   * counts as failed (retried with backoff) and its `context.signal` is aborted. @default no limit
   */
  taskTimeoutMs?: number;
  /** Close a master's result queue handle after this long unused. @default 10000 */
  resultQueueIdleMs?: number;
  /**
   * A task whose previous delivery was lost with its worker runs alone; it waits this long at most for the tasks
   * already running (a hung one must not stop the worker). @default 10000
   */
  isolationWaitMs?: number;
  /** Name reported in results. @default `<hostname>:<pid>` */
  name?: string;
  /**
   * Announce this worker on the transport's broadcast every this many ms (see `WorkerDirectory`), 0 = never. A
   * worker not heard from for three periods is taken for dead. @default 5000
   */
  heartbeatMs?: number;
  /**
   * Run each attempt in an OpenTelemetry span, child of the submit span whose trace context the task carries,
   * when `@opentelemetry/api` is installed and a tracer provider registered. @default true
   */
  tracing?: boolean;
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
  private readonly taskTimeoutMs: number | undefined;
  private readonly resultQueueIdleMs: number | undefined;
  private readonly isolationWaitMs: number;
  private readonly queueOptions: QueueOptions;
  private readonly running = new Set<Promise<void>>();
  private readonly settling = new Set<Promise<void>>();
  // Tasks whose result was handed to the sender and whose delivery is not settled yet.
  private resultsPending = 0;
  private resultsDrained: (() => void) | undefined;
  private readonly waiting: Delivery<unknown>[] = [];
  private tasks!: DistributedQueue<unknown>;
  private deadLetters: Promise<DistributedQueue<unknown>> | undefined;
  private sender!: ResultSender;
  private consumer: Promise<ConsumerHandle> | undefined;
  private subscription: Subscription | undefined;
  private stopping: Promise<void> | undefined;
  private isolating: Promise<void> | undefined;
  private consuming = false;
  private lastActivity = Date.now();
  /** Masters heard leaving: their tasks are acked and dropped, unrun and unanswered. */
  private readonly departed = new DepartedMasters();
  /** Tasks whose handler is running, for the heartbeats (a synchronous handler is never seen running). */
  private readonly runningTasks = new Map<string, RunningTask>();
  private tasksDone = 0;
  private tasksFailed = 0;
  private readonly id = randomUUID();
  private readonly startedAt = Date.now();
  private readonly presence: PresenceAnnouncer;
  private readonly tracing: TracingSlot;

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
    this.prefetch =
      options.prefetch ??
      Math.max(this.concurrency * 4, this.connection.transport.recommendedPrefetch ?? 256);
    this.backoff = options.backoff ?? {};
    checkTaskTimeout(options.taskTimeoutMs, 'taskTimeoutMs');
    this.taskTimeoutMs = options.taskTimeoutMs;
    this.resultQueueIdleMs = options.resultQueueIdleMs;
    this.isolationWaitMs = options.isolationWaitMs ?? 10_000;
    this.name = options.name ?? `${hostname()}:${process.pid}`;
    const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    if (heartbeatMs !== 0) checkTaskTimeout(heartbeatMs, 'heartbeatMs');
    this.presence = new PresenceAnnouncer(this.connection, () => this.info(heartbeatMs), heartbeatMs);
    this.tracing = new TracingSlot(options.tracing ?? true);
  }

  /** Create a worker and start taking tasks. */
  static async start(options: WorkerOptions): Promise<Worker> {
    const worker = new Worker(options);
    await worker.start();
    return worker;
  }

  /** Milliseconds since a task last arrived or finished. */
  get idleMs(): number {
    return this.busy ? 0 : Date.now() - this.lastActivity;
  }

  /**
   * Handles on masters' result queues this worker holds open now (for tests and diagnostics). A handle closes when
   * its master announces its departure or after `resultQueueIdleMs` unused, so this stays bounded however many
   * masters come and go.
   */
  get openResultQueues(): number {
    return this.sender?.openQueues ?? 0;
  }

  private get busy(): boolean {
    return (
      this.running.size > 0 ||
      this.waiting.length > 0 ||
      this.settling.size > 0 ||
      this.resultsPending > 0 ||
      !!this.isolating
    );
  }

  /** Declare the task queue and start consuming (and listening for broadcasts where supported). */
  async start(): Promise<void> {
    await this.tracing.start();
    this.tasks = await this.connection.queue(this.queueName, this.queueOptions);
    this.sender = new ResultSender(this.connection, { idleCloseMs: this.resultQueueIdleMs });
    await this.consume();
    if (this.connection.transport.capabilities.broadcast) {
      this.subscription = await this.connection.subscribe(broadcastChannelOf(this.queueName), (message) => {
        if (isDepartureNotice(message)) {
          this.departed.add(message.departed);
          this.sender.forget(message.departed);
          return;
        }
        const task = readTask(message);
        if (task) void this.runBroadcast(task);
      });
    }
    // Not awaited: announcing must not hold up the start (a short job can be over before a subscription is made).
    this.presence.start().catch((error: Error) => this.report(error));
  }

  /** What this worker's heartbeats say about it now. */
  info(heartbeatMs: number): WorkerInfo {
    return {
      id: this.id,
      name: this.name,
      host: hostname(),
      pid: process.pid,
      queue: this.queueName,
      concurrency: this.concurrency,
      transport: this.connection.transport.name,
      startedAt: this.startedAt,
      heartbeatAt: Date.now(),
      heartbeatMs,
      tasksDone: this.tasksDone,
      tasksFailed: this.tasksFailed,
      running: listRunning(this.runningTasks.values()),
      state: this.stopping ? 'stopping' : 'running',
    };
  }

  /**
   * Stop taking tasks, finish the running ones and send their results, and give back tasks fetched but not
   * started without spending one of their attempts. Resolves when nothing is in flight.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.stopConsuming();
      this.presence.announce();
      await this.subscription?.unsubscribe();
      await this.releaseWaiting();
      while (this.running.size > 0 || this.settling.size > 0 || this.resultsPending > 0 || this.isolating) {
        await Promise.allSettled([
          ...this.running,
          ...this.settling,
          this.isolating,
          this.allResultsSettled(),
        ]);
      }
      await this.releaseWaiting();
      await this.presence.stop();
      await this.sender?.close();
      await this.deadLetters?.then(
        (queue) => queue.close(),
        () => {},
      );
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

  private async consume(): Promise<void> {
    // Set before consume() resolves: a backend may deliver while the call is still in progress.
    this.consuming = true;
    this.consumer = this.tasks.consume((delivery) => this.accept(delivery), { prefetch: this.prefetch });
    await this.consumer;
  }

  private async stopConsuming(): Promise<void> {
    // A backend may deliver, and so get here, before consume() has handed back its promise.
    await null;
    const consumer = this.consumer;
    this.consumer = undefined;
    await (await consumer)?.cancel();
    this.consuming = false;
  }

  private accept(delivery: Delivery<unknown>): void {
    this.lastActivity = Date.now();
    if (this.stopping || this.isolating) {
      // Consumption is being cancelled: hold it, it is given back once the cancel is done. Giving it back now
      // would let the backend push it straight back to this consumer.
      if (this.consuming) this.waiting.push(delivery);
      else void release(delivery).catch((error: Error) => this.report(error));
      return;
    }
    if (delivery.attempt > 1) {
      this.isolating = this.isolate(delivery).finally(() => {
        this.isolating = undefined;
        if (!this.stopping) void this.consume().catch((error: Error) => this.report(error));
        this.emitIdleIfDone();
      });
      return;
    }
    this.waiting.push(delivery);
    this.pump();
  }

  /**
   * Wait for the running tasks, at most `limitMs`: a hung handler without a timeout must not stop this worker
   * from ever consuming again. A task still running then shares the suspect's fate, as any started task would.
   */
  private async runningSettled(limitMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, limitMs);
    });
    try {
      while (this.running.size > 0) {
        const waited = await Promise.race([
          Promise.allSettled([...this.running]).then(() => true),
          limit.then(() => false),
        ]);
        if (!waited) return;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Give back every delivery fetched but not started, without spending an attempt. */
  private async releaseWaiting(): Promise<void> {
    await Promise.allSettled(this.waiting.splice(0).map((delivery) => release(delivery)));
  }

  /**
   * Run a suspect alone. A delivery whose attempt is above 1 follows one that was lost with its worker (retries
   * after a handler failure are fresh copies, attempt 1): it may be the task that killed that worker. Holding
   * nothing else while it runs means that if it kills this worker too, no other task is charged an attempt.
   */
  private async isolate(suspect: Delivery<unknown>): Promise<void> {
    try {
      await this.stopConsuming();
      await this.releaseWaiting();
      await this.runningSettled(this.isolationWaitMs);
      await this.settleNow(await this.execute(suspect));
      await this.allResultsSettled();
    } catch (error) {
      this.report(error as Error);
    } finally {
      this.lastActivity = Date.now();
    }
  }

  private pump(): void {
    if (this.stopping || this.isolating) return;
    while (this.running.size < this.concurrency && this.waiting.length > 0) {
      const delivery = this.waiting.shift()!;
      let plan: Settle | Promise<Settle>;
      try {
        plan = this.execute(delivery);
      } catch (error) {
        this.report(error as Error);
        continue;
      }
      // A synchronous handler has already finished: no slot, no promise. Otherwise the slot is held only while
      // the handler runs; sending the result and acking (a round trip) happen outside it, or each slot would idle
      // for one round trip per task.
      if (!(plan instanceof Promise)) {
        this.track(this.settleNow(plan));
        continue;
      }
      const run: Promise<void> = plan.then(
        (settle) => this.ran(run, settle),
        (error: Error) => this.ran(run, undefined, error),
      );
      this.running.add(run);
    }
    this.lastActivity = Date.now();
  }

  private ran(run: Promise<void>, settle: Settle | undefined, error?: Error): void {
    if (settle) this.track(this.settleNow(settle));
    else this.report(error!);
    this.running.delete(run);
    this.lastActivity = Date.now();
    this.pump();
    this.emitIdleIfDone();
  }

  private track(settling: Promise<void> | undefined): void {
    if (!settling) return;
    const tracked: Promise<void> = settling.then(
      () => this.tracked(tracked),
      (error: Error) => {
        this.report(error);
        this.tracked(tracked);
      },
    );
    this.settling.add(tracked);
  }

  private tracked(settling: Promise<void>): void {
    this.settling.delete(settling);
    this.emitIdleIfDone();
  }

  private emitIdleIfDone(): void {
    if (!this.busy) this.emit('idle');
  }

  private handlerFor(kind: string): TaskHandler | undefined {
    if (typeof this.handlers === 'function') return this.handlers;
    return Object.hasOwn(this.handlers, kind) ? this.handlers[kind] : undefined;
  }

  /**
   * Run the handler; returns what remains to do (send the result, settle the delivery), at once when the handler
   * was synchronous.
   */
  private execute(delivery: Delivery<unknown>): Settle | Promise<Settle> {
    const task = readTask(delivery.body);
    if (!task) {
      // Not a task at all: retrying cannot help, so dead-letter it.
      this.emit('poison', delivery);
      return () => delivery.nack({ requeue: false });
    }
    if (this.departed.has(task.replyTo)) return () => delivery.ack(); // its master has left
    const attempt = (task.priorAttempts ?? 0) + delivery.attempt;
    const startedAt = Date.now();
    if (attempt > task.maxAttempts) {
      // Every allowed attempt was delivered and none settled: the workers running it died or were cut off
      // (a handler that exits its process, a signal, out of memory). Never run it again.
      const ran = attempt - 1;
      const lost = delivery.attempt - 1;
      const error = new WorkerLostError(
        `task ${task.id} was given up after ${ran} attempt${ran === 1 ? '' : 's'} (maxAttempts ${task.maxAttempts}): ` +
          `the worker running it was lost ${lost === 1 ? 'once' : `${lost} times`} (it crashed, was killed or ` +
          'lost its connection while running it)',
      );
      return this.finish(delivery, task, { ok: false, error }, ran, startedAt);
    }
    const handler = this.handlerFor(task.kind);
    if (!handler) {
      const error = Object.assign(new Error(`no handler for task kind "${task.kind}"`), {
        name: 'UnknownKindError',
      });
      return this.finish(delivery, task, { ok: false, error }, attempt, startedAt);
    }
    const tracing = this.tracing.get();
    const running = tracing?.recording
      ? tracing.run(task, attempt, this.name, this.queueName, () => this.attempt(handler, task, attempt))
      : this.attempt(handler, task, attempt);
    if (running instanceof Promise) {
      this.runningTasks.set(task.id, { id: task.id, kind: task.kind, attempt, startedAt });
      return running.then((outcome) => {
        this.runningTasks.delete(task.id);
        return this.conclude(delivery, task, outcome, attempt, startedAt);
      });
    }
    return this.conclude(delivery, task, running, attempt, startedAt);
  }

  /** Run one attempt of the handler (its outcome at once when the handler is synchronous and untimed). */
  private attempt(
    handler: TaskHandler,
    task: TaskEnvelope,
    attempt: number,
  ): AttemptOutcome | Promise<AttemptOutcome> {
    const context = new AttemptContext(task.id, task.kind, attempt, task.maxAttempts, this.name, false);
    const timeoutMs = task.timeoutMs ?? this.taskTimeoutMs;
    return timeoutMs === undefined
      ? runUntimed(handler, task.payload, context)
      : runAttempt(
          () => handler(task.payload, context),
          context,
          timeoutMs,
          () => `task ${task.id} (attempt ${attempt} of ${task.maxAttempts})`,
        );
  }

  /** After an attempt: a retry while attempts remain, else the final result. */
  private conclude(
    delivery: Delivery<unknown>,
    task: TaskEnvelope,
    outcome: AttemptOutcome,
    attempt: number,
    startedAt: number,
  ): Settle {
    if (!outcome.ok && attempt < task.maxAttempts) {
      const delayMs = backoffDelay(attempt, this.backoff);
      this.emit('retrying', task, attempt, delayMs, outcome.error);
      return () => this.retry(delivery, task, attempt, delayMs);
    }
    return this.finish(delivery, task, outcome, attempt, startedAt);
  }

  /**
   * Put a fresh copy of the task that records the attempts spent, delayed by the backoff, then ack this one. A
   * crash between the two runs the task twice (its master keeps one result); a copy that cannot be put (a full
   * bounded queue, say) falls back to the transport's own delayed requeue, which never waits for room.
   */
  private async retry(delivery: Delivery<unknown>, task: TaskEnvelope, attempt: number, delayMs: number) {
    try {
      const { failure: _previous, ...rest } = task;
      const copy = taskToWire({ ...rest, priorAttempts: attempt });
      await this.tasks.put(copy, { delayMs, priority: task.priority, timeoutMs: 0 });
    } catch {
      return delivery.nack({ requeue: true, delayMs });
    }
    await delivery.ack();
  }

  /**
   * The task's last word: send its result to its master, then ack it (or dead-letter it when it failed). When
   * the result cannot be sent the delivery goes back to the queue, so no delivery is left unsettled.
   */
  private finish(
    delivery: Delivery<unknown>,
    task: TaskEnvelope,
    outcome: AttemptOutcome,
    attempt: number,
    startedAt: number,
  ): Settle {
    // One object per task carries it to the end (no closures): this is the path every task takes.
    return new FinalResult(
      delivery,
      task,
      attempt,
      this.resultOf(task.id, outcome, attempt, startedAt),
      this.resultSent,
    );
  }

  /** Do what remains once a handler has run. */
  private settleNow(settle: Settle): Promise<void> | undefined {
    if (typeof settle === 'function') return settle();
    // A master that left meanwhile deleted its result queue: a result would recreate it.
    if (this.departed.has(settle.task.replyTo)) return settle.delivery.ack();
    this.resultsPending++;
    this.sender.post(settle.task.replyTo, settle);
    return undefined;
  }

  private readonly resultSent = (final: FinalResult, sent: TaskResult | undefined, error: unknown): void => {
    const { delivery, task, attempt } = final;
    if (!sent) {
      // The backend refused the result: run the task again later rather than leave it unsettled.
      this.report(error instanceof Error ? error : new Error(String(error)));
      this.settleResult(delivery.nack({ requeue: true, delayMs: backoffDelay(attempt, this.backoff) }));
      return;
    }
    // A final failure goes to the dead-letter queue once its master has the failed result.
    this.settleResult(sent.ok ? delivery.ack() : this.bury(delivery, task, sent.error!), sent);
  };

  /**
   * Dead-letter a task that failed for good as a copy that says why (`failure`), then ack it. A crash between the
   * two leaves the task to be delivered again, and it is dead-lettered once more: a dead-letter queue may hold a
   * task twice, never lose one. Without a dead-letter queue of its own, or when the copy cannot be put, the
   * transport dead-letters the delivery as it came.
   */
  private async bury(delivery: Delivery<unknown>, task: TaskEnvelope, failure: TaskErrorInfo): Promise<void> {
    const target = this.queueOptions.deadLetter;
    if (target === undefined) return delivery.nack({ requeue: false });
    try {
      this.deadLetters ??= this.connection.queue(target);
      const { priorAttempts: _spent, ...rest } = task;
      await (await this.deadLetters).put(taskToWire({ ...rest, failure }));
    } catch (error) {
      this.deadLetters = undefined;
      this.report(error as Error);
      return delivery.nack({ requeue: false });
    }
    await delivery.ack();
  }

  /** The end of a task whose result was sent: its settlement, then the `completed` or `failed` event. */
  private settleResult(settling: Promise<void>, sent?: TaskResult): void {
    settling.then(
      () => {
        if (sent?.ok) {
          this.tasksDone++;
          this.emit('completed', sent);
        } else if (sent) {
          this.tasksFailed++;
          this.emit('failed', sent);
        }
        this.resultSettled();
      },
      (error: Error) => {
        this.report(error);
        this.resultSettled();
      },
    );
  }

  private resultSettled(): void {
    if (--this.resultsPending > 0) return;
    const drained = this.resultsDrained;
    this.resultsDrained = undefined;
    drained?.();
    this.emitIdleIfDone();
  }

  /** Resolves once every sent result's task is settled. */
  private allResultsSettled(): Promise<void> {
    if (this.resultsPending === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const before = this.resultsDrained;
      this.resultsDrained = () => {
        before?.();
        resolve();
      };
    });
  }

  private async runBroadcast(task: TaskEnvelope): Promise<void> {
    const handler = this.handlerFor(task.kind);
    const startedAt = Date.now();
    const context = new AttemptContext(task.id, task.kind, 1, 1, this.name, true);
    const outcome: AttemptOutcome = handler
      ? await runAttempt(
          () => handler(task.payload, context),
          context,
          task.timeoutMs ?? this.taskTimeoutMs,
          () => `broadcast task ${task.id}`,
        )
      : { ok: false, error: new Error(`no handler for task kind "${task.kind}"`) };
    const result = this.resultOf(task.id, outcome, 1, startedAt);
    await this.sender.send(task.replyTo, result).catch((error: Error) => this.report(error));
  }

  /** The result of an attempt as it travels to the master. */
  private resultOf(taskId: string, outcome: AttemptOutcome, attempt: number, startedAt: number): TaskResult {
    const finishedAt = Date.now();
    // One literal per outcome: results keep a fixed shape, with no property added after creation.
    return outcome.ok
      ? { taskId, ok: true, value: outcome.value, worker: this.name, attempt, startedAt, finishedAt }
      : {
          taskId,
          ok: false,
          error: errorInfo(outcome.error),
          worker: this.name,
          attempt,
          startedAt,
          finishedAt,
        };
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

/**
 * What remains to do once a handler has run (tracked when it returns a promise): a task's final result to send, or
 * any other settlement.
 */
type Settle = (() => Promise<void> | undefined) | FinalResult;

/** A task's final result on its way to its master; told by the sender how that ended. */
class FinalResult implements SentReceiver {
  constructor(
    readonly delivery: Delivery<unknown>,
    readonly task: TaskEnvelope,
    readonly attempt: number,
    readonly result: TaskResult,
    private readonly onSent: (final: FinalResult, sent: TaskResult | undefined, error: unknown) => void,
  ) {}

  sent(sent: TaskResult | undefined, error?: unknown): void {
    this.onSent(this, sent, error);
  }
}

/** Give a delivery back as never started: its next delivery keeps this attempt number. */
function release(delivery: Delivery<unknown>): Promise<void> {
  return delivery.nack({ requeue: true, countAttempt: false });
}

import type { Connection, Master, TaskResult, Worker } from '@taskwire/core';
import type { Counter, Registry } from 'prom-client';
import { HistogramCounts } from './histogram-counts.js';
import { leanHistogram } from './lean-histogram.js';
import { promClient } from './prom-client.js';

/** Buckets of `taskwire_task_duration_seconds`: from a millisecond to five minutes. */
export const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** Stops observing what an `observe…` call attached to. */
export type Detach = () => void;

/** What the observed workers finished on one queue. */
interface Finished {
  completed: number;
  failed: number;
}

/**
 * The task counters, the duration histogram and the reconnect counter of one process. Attach the masters, workers
 * and connections it should count, and show it on a registry with {@link register} (or {@link createTaskMetrics}).
 *
 * Counting needs no prom-client: it is plain numbers until a registry shows them, so a process pays for prom-client
 * only once something reads its metrics. A master's submitted, completed and failed counts are read from its own
 * counters when Prometheus scrapes (so submitting costs nothing more); a worker's are counted from its events. Each
 * process counts what it sees: a master the results it received, a worker the tasks it finished.
 */
export class TaskMetrics {
  private readonly masters = new Set<Master>();
  /** By queue; kept apart from the masters' counts, which are read afresh at every scrape. */
  private readonly finishedByWorkers = new Map<string, Finished>();
  /** By queue and kind (a JSON pair as the key). */
  private readonly retried = new Map<string, { queue: string; kind: string; count: number }>();
  private readonly duration = new HistogramCounts<'queue' | 'outcome'>(DURATION_BUCKETS);
  /** By transport name. */
  private readonly reconnects = new Map<string, number>();

  /**
   * Show these metrics on `registry` (loading prom-client if it is not yet): `taskwire_tasks_submitted_total`,
   * `…_completed_total`, `…_failed_total`, `…_retried_total`, `taskwire_task_duration_seconds` and
   * `taskwire_reconnects_total`, with what was counted before and after. Throws if `registry` already has one of them.
   */
  register(registry: Registry): void {
    const { Counter } = promClient();
    const registers = [registry];
    const masters = this.masters;
    const workers = this.finishedByWorkers;
    /** A counter whose value is the masters' counter `field` plus what workers counted of `fromWorkers`. */
    const fromMasters = (field: 'submitted' | 'done' | 'failed', fromWorkers?: keyof Finished) =>
      function collect(this: Counter<'queue'>): void {
        const totals = new Map<string, number>();
        if (fromWorkers) for (const [queue, finished] of workers) totals.set(queue, finished[fromWorkers]);
        for (const master of masters) {
          totals.set(master.queueName, (totals.get(master.queueName) ?? 0) + master.progress[field]);
        }
        this.reset();
        for (const [queue, value] of totals) this.inc({ queue }, value);
      };
    new Counter({
      name: 'taskwire_tasks_submitted_total',
      help: 'Tasks submitted by the masters of this process',
      labelNames: ['queue'],
      registers,
      collect: fromMasters('submitted'),
    });
    new Counter({
      name: 'taskwire_tasks_completed_total',
      help: 'Tasks that ended with a result: received by a master, or finished by a worker, of this process',
      labelNames: ['queue'],
      registers,
      collect: fromMasters('done', 'completed'),
    });
    new Counter({
      name: 'taskwire_tasks_failed_total',
      help: 'Tasks that failed for good (every attempt failed): received by a master, or finished by a worker',
      labelNames: ['queue'],
      registers,
      collect: fromMasters('failed', 'failed'),
    });
    const retried = this.retried;
    new Counter({
      name: 'taskwire_tasks_retried_total',
      help: 'Failed attempts put back for another try by the workers of this process',
      labelNames: ['queue', 'kind'],
      registers,
      collect(this: Counter<'queue' | 'kind'>) {
        this.reset();
        for (const { queue, kind, count } of retried.values()) this.inc({ queue, kind }, count);
      },
    });
    leanHistogram(
      {
        name: 'taskwire_task_duration_seconds',
        help: "Run time of a task's final attempt (from its result), by outcome",
        labelNames: ['queue', 'outcome'],
        registers,
      },
      this.duration,
    );
    const reconnects = this.reconnects;
    new Counter({
      name: 'taskwire_reconnects_total',
      help: 'Times a dropped connection to the backend came back',
      labelNames: ['transport'],
      registers,
      collect(this: Counter<'transport'>) {
        this.reset();
        for (const [transport, count] of reconnects) this.inc({ transport }, count);
      },
    });
  }

  /** Count a master's tasks (read from its counters at each scrape) and time its results. */
  observeMaster(master: Master): Detach {
    this.masters.add(master);
    const time = this.timer(master.queueName);
    master.on('done', time);
    master.on('failed', time);
    return () => {
      this.masters.delete(master);
      master.off('done', time);
      master.off('failed', time);
    };
  }

  /** Count a worker's finished, failed and retried tasks and time them. */
  observeWorker(worker: Worker): Detach {
    const queue = worker.queueName;
    const time = this.timer(queue);
    let finished = this.finishedByWorkers.get(queue);
    if (!finished) {
      finished = { completed: 0, failed: 0 };
      this.finishedByWorkers.set(queue, finished);
    }
    // Bound once: a task costs an addition and a bucket search, no lookup by queue.
    const counts = finished;
    const onCompleted = (result: TaskResult) => {
      counts.completed++;
      time(result);
    };
    const onFailed = (result: TaskResult) => {
      counts.failed++;
      time(result);
    };
    const onRetrying = (task: { kind: string }) => {
      // Rare: looked up by key each time.
      const key = JSON.stringify([queue, task.kind]);
      const entry = this.retried.get(key);
      if (entry) entry.count++;
      else this.retried.set(key, { queue, kind: task.kind, count: 1 });
    };
    worker.on('completed', onCompleted);
    worker.on('failed', onFailed);
    worker.on('retrying', onRetrying);
    return () => {
      worker.off('completed', onCompleted);
      worker.off('failed', onFailed);
      worker.off('retrying', onRetrying);
    };
  }

  /** Count a connection's reconnects. */
  observeConnection(connection: Connection): Detach {
    const transport = connection.transport.name;
    // Present from the start at 0, so a rate() over it works before the first reconnect.
    if (!this.reconnects.has(transport)) this.reconnects.set(transport, 0);
    const onReconnect = () => this.reconnects.set(transport, (this.reconnects.get(transport) ?? 0) + 1);
    connection.on('reconnect', onReconnect);
    return () => connection.off('reconnect', onReconnect);
  }

  private timer(queue: string): (result: TaskResult) => void {
    // Bound once: a result costs a bucket search, not a label lookup.
    const completed = this.duration.bind({ queue, outcome: 'completed' });
    const failed = this.duration.bind({ queue, outcome: 'failed' });
    return (result) =>
      (result.ok ? completed : failed)(Math.max(0, result.finishedAt - result.startedAt) / 1000);
  }
}

/** A {@link TaskMetrics} shown on `registry`. */
export function createTaskMetrics(registry: Registry): TaskMetrics {
  const metrics = new TaskMetrics();
  metrics.register(registry);
  return metrics;
}

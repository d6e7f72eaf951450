import type { Connection, Master, TaskResult, Worker } from '@taskwire/core';
import { Counter, type Registry } from 'prom-client';
import { LeanHistogram } from './lean-histogram.js';

/** Buckets of `taskwire_task_duration_seconds`: from a millisecond to five minutes. */
export const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** Stops observing what an `observe…` call attached to. */
export type Detach = () => void;

/**
 * The task counters, the duration histogram and the reconnect counter of one process, on `registry`. Attach the
 * masters, workers and connections it should count; a process registers one `TaskMetrics` per registry.
 *
 * A master's submitted, completed and failed counts are read from its own counters when Prometheus scrapes (so
 * submitting costs nothing more); a worker's are counted from its events. Each process counts what it sees: a
 * master the results it received, a worker the tasks it finished.
 */
export class TaskMetrics {
  private readonly masters = new Set<Master>();
  private readonly retried: Counter<'queue' | 'kind'>;
  private readonly duration: LeanHistogram<'queue' | 'outcome'>;
  private readonly reconnects: Counter<'transport'>;
  /** Worker counts so far, kept apart from the masters' (which are read afresh at every scrape). */
  private readonly finishedByWorkers = {
    completed: new Map<string, number>(),
    failed: new Map<string, number>(),
  };

  constructor(readonly registry: Registry) {
    const registers = [registry];
    const masters = this.masters;
    const workers = this.finishedByWorkers;
    /** A counter whose value is the masters' counter `field` plus what workers counted. */
    const fromMasters = (field: 'submitted' | 'done' | 'failed', fromWorkers?: Map<string, number>) =>
      function collect(this: Counter<'queue'>): void {
        const totals = new Map(fromWorkers);
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
      collect: fromMasters('done', workers.completed),
    });
    new Counter({
      name: 'taskwire_tasks_failed_total',
      help: 'Tasks that failed for good (every attempt failed): received by a master, or finished by a worker',
      labelNames: ['queue'],
      registers,
      collect: fromMasters('failed', workers.failed),
    });
    this.retried = new Counter({
      name: 'taskwire_tasks_retried_total',
      help: 'Failed attempts put back for another try by the workers of this process',
      labelNames: ['queue', 'kind'],
      registers,
    });
    this.duration = new LeanHistogram({
      name: 'taskwire_task_duration_seconds',
      help: "Run time of a task's final attempt (from its result), by outcome",
      labelNames: ['queue', 'outcome'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.reconnects = new Counter({
      name: 'taskwire_reconnects_total',
      help: 'Times a dropped connection to the backend came back',
      labelNames: ['transport'],
      registers,
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
    const { completed, failed } = this.finishedByWorkers;
    const onCompleted = (result: TaskResult) => {
      completed.set(queue, (completed.get(queue) ?? 0) + 1);
      time(result);
    };
    const onFailed = (result: TaskResult) => {
      failed.set(queue, (failed.get(queue) ?? 0) + 1);
      time(result);
    };
    const onRetrying = (task: { kind: string }) => this.retried.inc({ queue, kind: task.kind }); // rare: unbound
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
    this.reconnects.inc({ transport }, 0);
    const onReconnect = () => this.reconnects.inc({ transport });
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

/** {@link TaskMetrics} on `registry`. */
export function createTaskMetrics(registry: Registry): TaskMetrics {
  return new TaskMetrics(registry);
}

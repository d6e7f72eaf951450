import { EventEmitter } from 'node:events';
import type { Connection, QueueStats } from '@taskwire/core';
import type { WorkerInfo, WorkerWatch } from '../workers.js';

/** One sample of one queue: its counts, and the tasks its workers finished since the previous sample. */
export interface QueueSample {
  /** Epoch ms. */
  t: number;
  ready: number;
  delayed: number;
  inFlight: number | null;
  dead: number;
  /** Tasks done and failed per second since the previous sample, by the queue's live workers' counters. */
  donePerSec: number | null;
  failedPerSec: number | null;
}

/** What the dashboard shows of the backend, kept by one {@link Sampler} for every open page. */
export interface Snapshot {
  sampledAt: number;
  queues: QueueStats[];
  workers: WorkerInfo[];
  /** Why the last sample failed (one line), if it did. */
  error?: string;
}

/** Options of {@link Sampler}. */
export interface SamplerOptions {
  connection: Connection;
  /** Live workers, when the core has worker presence. */
  workers?: WorkerWatch;
  intervalMs: number;
  /** Samples kept per queue. */
  historyLength: number;
}

/**
 * Reads every queue's counts once per interval, however many pages are open: a page asks the sampler, never the
 * backend, so the backend's load does not grow with viewers. Worker counters come from presence (broadcast), not
 * polling. Emits `sample` after each round.
 */
export class Sampler extends EventEmitter {
  readonly history = new Map<string, QueueSample[]>();
  private snapshot: Snapshot = { sampledAt: 0, queues: [], workers: [] };
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Per worker id, its last counters; summed positive deltas give a queue's rate. */
  private lastCounters = new Map<string, { done: number; failed: number }>();
  private lastSampleAt = Number.POSITIVE_INFINITY;

  constructor(private readonly options: SamplerOptions) {
    super();
  }

  /** Take the first sample, then one per interval. */
  async start(): Promise<void> {
    await this.sample();
    this.schedule();
  }

  /** The latest sample. */
  latest(): Snapshot {
    return this.snapshot;
  }

  /** Sample again now (after an action changed the counts). */
  async refresh(): Promise<void> {
    clearTimeout(this.timer);
    await this.sample();
    this.schedule();
  }

  stop(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.sample().finally(() => this.schedule()), this.options.intervalMs);
    this.timer.unref();
  }

  private async sample(): Promise<void> {
    const { connection } = this.options;
    const workers = this.options.workers?.list() ?? [];
    try {
      const names = await connection.listQueues();
      const queues = await Promise.all(names.map((name) => connection.stats(name)));
      this.record(queues, workers, Date.now());
      this.snapshot = { sampledAt: Date.now(), queues, workers };
    } catch (error) {
      this.snapshot = { ...this.snapshot, workers, error: (error as Error).message.split('\n')[0] ?? '' };
    }
    this.emit('sample');
  }

  private record(queues: QueueStats[], workers: WorkerInfo[], t: number): void {
    const finished = this.finishedByQueue(workers);
    for (const stats of queues) {
      const samples = this.history.get(stats.name) ?? [];
      const previous = samples.at(-1);
      const seconds = previous ? (t - previous.t) / 1000 : 0;
      const counts = finished.get(stats.name);
      samples.push({
        t,
        ready: stats.ready,
        delayed: stats.delayed,
        inFlight: stats.inFlight ?? null,
        dead: stats.deadLetter.size,
        donePerSec: seconds > 0 && this.options.workers ? (counts?.done ?? 0) / seconds : null,
        failedPerSec: seconds > 0 && this.options.workers ? (counts?.failed ?? 0) / seconds : null,
      });
      if (samples.length > this.options.historyLength) samples.shift();
      this.history.set(stats.name, samples);
    }
    const listed = new Set(queues.map((q) => q.name));
    for (const name of this.history.keys()) if (!listed.has(name)) this.history.delete(name);
  }

  /** Tasks each queue's workers finished since the last call (a restarted worker counts from zero). */
  private finishedByQueue(workers: WorkerInfo[]): Map<string, { done: number; failed: number }> {
    const byQueue = new Map<string, { done: number; failed: number }>();
    const seen = new Map<string, { done: number; failed: number }>();
    for (const worker of workers) {
      // A worker first seen counts from zero if it started since the last sample, else from now on.
      const fresh = worker.startedAt >= this.lastSampleAt;
      const before =
        this.lastCounters.get(worker.id) ??
        (fresh ? { done: 0, failed: 0 } : { done: worker.tasksDone, failed: worker.tasksFailed });
      const sum = byQueue.get(worker.queue) ?? { done: 0, failed: 0 };
      sum.done += Math.max(0, worker.tasksDone - before.done);
      sum.failed += Math.max(0, worker.tasksFailed - before.failed);
      byQueue.set(worker.queue, sum);
      seen.set(worker.id, { done: worker.tasksDone, failed: worker.tasksFailed });
    }
    this.lastCounters = seen;
    this.lastSampleAt = Date.now();
    return byQueue;
  }
}

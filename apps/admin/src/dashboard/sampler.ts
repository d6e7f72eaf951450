import { EventEmitter } from 'node:events';
import type { Connection, QueueStats, WorkerDirectory, WorkerInfo } from '@taskwire/core';

/** One sample of one queue: its counts, and the tasks its workers finished since the previous sample. */
export interface QueueSample {
  /** Epoch ms. */
  t: number;
  ready: number;
  delayed: number;
  inFlight: number | null;
  dead: number;
  /** Tasks done and failed per second by the queue's live workers, from their last two heartbeats' counters. */
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
  workers?: WorkerDirectory;
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
  /** Per worker id, its counters at its last heartbeat and the rates since the one before. */
  private counters = new Map<string, WorkerCounters>();

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
    const rates = this.ratesByQueue(workers);
    const known = this.options.workers !== undefined;
    for (const stats of queues) {
      const samples = this.history.get(stats.name) ?? [];
      const rate = rates.get(stats.name);
      samples.push({
        t,
        ready: stats.ready,
        delayed: stats.delayed,
        inFlight: stats.inFlight ?? null,
        dead: stats.deadLetter.size,
        donePerSec: known ? (rate?.done ?? 0) : null,
        failedPerSec: known ? (rate?.failed ?? 0) : null,
      });
      if (samples.length > this.options.historyLength) samples.shift();
      this.history.set(stats.name, samples);
    }
    const listed = new Set(queues.map((q) => q.name));
    for (const name of this.history.keys()) if (!listed.has(name)) this.history.delete(name);
  }

  /**
   * Each queue's tasks per second, summed over its workers. A worker's rate is its counters' change between its
   * last two heartbeats over their time apart (its own clock on both ends), so a rate does not jump with the
   * phase of heartbeats against samples; a worker first heard counts from its start.
   */
  private ratesByQueue(workers: WorkerInfo[]): Map<string, { done: number; failed: number }> {
    const byQueue = new Map<string, { done: number; failed: number }>();
    const next = new Map<string, WorkerCounters>();
    for (const worker of workers) {
      const before = this.counters.get(worker.id) ?? {
        at: worker.startedAt,
        done: 0,
        failed: 0,
        donePerSec: 0,
        failedPerSec: 0,
      };
      let counters = before;
      const seconds = (worker.heartbeatAt - before.at) / 1000;
      if (seconds > 0) {
        counters = {
          at: worker.heartbeatAt,
          done: worker.tasksDone,
          failed: worker.tasksFailed,
          donePerSec: Math.max(0, worker.tasksDone - before.done) / seconds,
          failedPerSec: Math.max(0, worker.tasksFailed - before.failed) / seconds,
        };
      }
      next.set(worker.id, counters);
      const sum = byQueue.get(worker.queue) ?? { done: 0, failed: 0 };
      sum.done += counters.donePerSec;
      sum.failed += counters.failedPerSec;
      byQueue.set(worker.queue, sum);
    }
    this.counters = next;
    return byQueue;
  }
}

interface WorkerCounters {
  /** The heartbeat's time (the worker's clock). */
  at: number;
  done: number;
  failed: number;
  donePerSec: number;
  failedPerSec: number;
}

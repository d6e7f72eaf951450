import { type Connection, type DistributedQueue, WorkerDirectory } from '@taskwire/core';
import type { Gauge, Registry } from 'prom-client';
import { promClient } from './prom-client.js';

/** Options of {@link createQueueMetrics}. */
export interface QueueMetricsOptions {
  /**
   * The queues whose depth is reported. @default every queue of the connection (`listQueues()`, where the
   * transport can list them; none otherwise)
   */
  queues?: readonly string[];
  /** Also report `taskwire_workers`, the live workers by queue (needs the `broadcast` capability). @default true */
  workers?: boolean;
}

/** Queue depth and live workers of one connection, read when Prometheus scrapes. */
export interface QueueMetrics {
  /** Show them on `registry` too (loading prom-client if it is not yet). */
  register(registry: Registry): void;
  /** Stop watching the live workers (the gauges stay registered, at their last values). */
  close(): Promise<void>;
}

/**
 * Report `taskwire_queue_depth{queue,state}` for `queues` (states `ready`, `delayed`, `in_flight` and `dead`, the
 * size of the queue's dead-letter queue) from `connection.stats()` at each scrape, and `taskwire_workers{queue}`
 * from a {@link WorkerDirectory}. On a transport without the `stats` capability, the depth is the queue's
 * `size()` (ready and delayed together) as state `queued`. A queue that cannot be read is left out of that scrape.
 */
export async function createQueueMetrics(
  connection: Connection,
  registry: Registry,
  options: QueueMetricsOptions = {},
): Promise<QueueMetrics> {
  const metrics = await watchQueueMetrics(connection, options);
  metrics.register(registry);
  return metrics;
}

/**
 * {@link createQueueMetrics} before any registry: the live workers are watched from now on, the depth is read at each
 * scrape of the registries it is then {@link QueueMetrics.register | registered} on. Loads no prom-client.
 */
export async function watchQueueMetrics(
  connection: Connection,
  options: QueueMetricsOptions = {},
): Promise<QueueMetrics> {
  const { capabilities } = connection.transport;
  const opened = new Map<string, Promise<DistributedQueue>>();
  const queuesNow = async (): Promise<readonly string[]> => {
    if (options.queues) return options.queues;
    return capabilities.listQueues ? connection.listQueues() : [];
  };
  /** Sets the depth gauge from the backend, as `collect` at each scrape. */
  async function collectDepth(this: Gauge<'queue' | 'state'>): Promise<void> {
    this.reset();
    const names = await queuesNow().catch(() => []);
    await Promise.all(
      names.map(async (queue) => {
        try {
          if (capabilities.stats) {
            const stats = await connection.stats(queue);
            this.set({ queue, state: 'ready' }, stats.ready);
            this.set({ queue, state: 'delayed' }, stats.delayed);
            if (stats.inFlight !== undefined) this.set({ queue, state: 'in_flight' }, stats.inFlight);
            this.set({ queue, state: 'dead' }, stats.deadLetter.size);
          } else {
            // Opened once (without options: an existing queue as it is) and kept for the next scrapes.
            let handle = opened.get(queue);
            if (!handle) {
              handle = connection.queue(queue);
              opened.set(queue, handle);
              handle.catch(() => opened.delete(queue));
            }
            this.set({ queue, state: 'queued' }, await (await handle).size());
          }
        } catch {
          // Deleted meanwhile, or the backend is away: no sample this time rather than a failed scrape.
        }
      }),
    );
  }

  const directory =
    options.workers !== false && capabilities.broadcast ? await WorkerDirectory.watch(connection) : undefined;
  /** Sets the live-workers gauge from the directory, as `collect` at each scrape. */
  function collectWorkers(this: Gauge<'queue'>): void {
    this.reset();
    const counts = new Map<string, number>();
    for (const worker of directory?.list() ?? [])
      counts.set(worker.queue, (counts.get(worker.queue) ?? 0) + 1);
    for (const queue of options.queues ?? []) if (!counts.has(queue)) counts.set(queue, 0);
    for (const [queue, count] of counts) this.set({ queue }, count);
  }
  return {
    register(registry) {
      const { Gauge } = promClient();
      new Gauge({
        name: 'taskwire_queue_depth',
        help: 'Items in a queue by state: ready, delayed, in_flight, dead (its dead-letter queue); queued where the transport cannot tell ready from delayed',
        labelNames: ['queue', 'state'],
        registers: [registry],
        collect: collectDepth,
      });
      if (directory) {
        new Gauge({
          name: 'taskwire_workers',
          help: 'Live workers (heard from within three heartbeats), by the queue they take from',
          labelNames: ['queue'],
          registers: [registry],
          collect: collectWorkers,
        });
      }
    },
    async close() {
      await directory?.close();
      await Promise.allSettled([...opened.values()].map(async (handle) => (await handle).close()));
    },
  };
}

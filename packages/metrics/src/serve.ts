import type { Connection } from '@taskwire/core';
import type { Registry } from 'prom-client';
import { promClient } from './prom-client.js';
import { watchQueueMetrics } from './queue-metrics.js';
import { type MetricsServer, startMetricsServer } from './server.js';
import { TaskMetrics } from './task-metrics.js';

/** Options of {@link serveMetrics}. */
export interface ServeMetricsOptions {
  /** The connection whose queues and workers are reported. */
  connection: Connection;
  /** Queues whose depth is reported. @default every queue the connection can list */
  queues?: readonly string[];
  /** TCP port; 0 picks a free one. */
  port: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Report the live workers (`taskwire_workers`). @default true */
  workers?: boolean;
}

/** A running transport-wide exporter. */
export interface ServedMetrics extends MetricsServer {
  /** The registry served; created (and prom-client loaded) at the first scrape, or here when read first. */
  readonly registry: Registry;
  /** The task metrics on the same registry: attach the process's master or worker to them. */
  readonly tasks: TaskMetrics;
}

/**
 * A transport-wide exporter (what `taskwire metrics` runs, and what `--metrics-port` of taskwire-master and
 * taskwire-worker starts): queue depth by state for `queues` (or every queue), live workers by queue, the
 * connection's reconnects, and the task metrics of whatever is attached to `tasks`, on `http://host:port/metrics`. `close()` stops the
 * server and the watching; the connection stays open.
 *
 * Until the first scrape nothing is asked of prom-client, not even to load (30–40 ms of CPU): tasks are counted in
 * plain numbers, and a short job that nobody scrapes pays for neither.
 *
 * @example
 * ```ts
 * const served = await serveMetrics({ connection, port: 9464 });
 * console.log(`metrics on ${served.url}`);
 * ```
 */
export async function serveMetrics(options: ServeMetricsOptions): Promise<ServedMetrics> {
  const tasks = new TaskMetrics();
  const detach = tasks.observeConnection(options.connection);
  const queues = await watchQueueMetrics(options.connection, {
    ...(options.queues ? { queues: options.queues } : {}),
    workers: options.workers ?? true,
  });
  let registry: Registry | undefined;
  const registryNow = (): Registry => {
    if (!registry) {
      const created = new (promClient().Registry)();
      tasks.register(created);
      queues.register(created);
      registry = created;
    }
    return registry;
  };
  let server: MetricsServer;
  try {
    server = await startMetricsServer(registryNow, { port: options.port, host: options.host });
  } catch (error) {
    detach();
    await queues.close();
    throw error;
  }
  return {
    get registry() {
      return registryNow();
    },
    tasks,
    port: server.port,
    url: server.url,
    async close() {
      detach();
      await server.close();
      await queues.close();
    },
  };
}

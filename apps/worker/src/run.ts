import {
  type CommonFlags,
  connect,
  createLogger,
  exitOnConnectionFailure,
  type IsolationFlags,
  type Logger,
  loadRunnableHandler,
  loadTransport,
  type MetricsFlags,
  settingsFrom,
  tlsClientOptions,
} from '@taskwire/cli-kit';
import { type Connection, Worker } from '@taskwire/core';
import type { ServedMetrics } from '@taskwire/metrics';
import { printOnce } from './repeat-filter.js';

/** Options of {@link runWorker} (the `taskwire-worker` flags). */
export interface RunWorkerOptions extends CommonFlags, IsolationFlags, MetricsFlags {
  /** Handler name or module. @default 'square' */
  handler?: string;
  /** Tasks at once. @default 16, or the thread count with `isolate: 'threads'` */
  concurrency?: number;
  /** Deliveries held ahead of the running tasks (see `WorkerOptions.prefetch`). */
  prefetch?: number;
  /** Exit 0 after this many seconds without a task. */
  idleExit?: number;
  /** Worker name in results. */
  name?: string;
}

/**
 * Run a worker until a signal (graceful: finish in-flight, exit 0) or `idleExit` seconds without
 * work. Resolves with the exit code.
 */
export async function runWorker(options: RunWorkerOptions): Promise<number> {
  const log = await createLogger('taskwire-worker', options);
  // Started by a master (`--workers K`): when the master dies, even by SIGKILL, the IPC channel
  // closes and this worker must not live on as an orphan.
  if (process.send && process.env.TASKWIRE_EXIT_WITH_PARENT === '1') exitWithParent(log);

  const settings = await settingsFrom(options);
  const runnable = await loadRunnableHandler(options.handler ?? 'square', options, (error) =>
    log.error(`a handler thread failed outside any task: ${error.message}`, { error: error.name }),
  );
  const transport = await loadTransport(settings, (specifier) => import(specifier));
  const connection = await connect(transport, settings, await tlsClientOptions(options));
  exitOnConnectionFailure('taskwire-worker', connection);
  const worker = await Worker.start({
    connection,
    handler: runnable.handler,
    queue: settings.queue,
    concurrency: options.concurrency ?? runnable.defaultConcurrency,
    prefetch: options.prefetch,
    name: options.name,
    taskTimeoutMs: options.taskTimeout,
  });
  log.debug(`taking tasks from ${settings.queue}`, {
    queue: settings.queue,
    worker: worker.name,
    handler: options.handler ?? 'square',
  });
  // Loaded only when asked for, and once tasks flow: a local worker starts on its master's clock, and whatever it
  // loads before its first task delays the job (prom-client itself is loaded at the first scrape).
  const metrics =
    options.metricsPort === undefined
      ? undefined
      : await serveWorkerMetrics(await import('@taskwire/metrics'), worker, connection, options, log);
  const report = printOnce((line, repeats) => log.error(line, repeats ? { repeats } : undefined));
  worker.on('error', (error) => report(error.message));

  return new Promise<number>((resolve) => {
    let idleTimer: NodeJS.Timeout | undefined;
    const finish = async (code: number) => {
      clearInterval(idleTimer);
      await worker.stop();
      await metrics?.close();
      await runnable.close();
      await connection.close();
      resolve(code);
    };
    worker.handleSignals((code) => {
      if (code === 0) void finish(0);
      else process.exit(code);
    });
    if (options.idleExit !== undefined) {
      const limitMs = options.idleExit * 1000;
      idleTimer = setInterval(
        () => {
          if (worker.idleMs >= limitMs) void finish(0);
        },
        Math.min(1000, Math.max(50, limitMs / 4)),
      );
    }
  });
}

/** With `--metrics-port`: the worker's task metrics, its queue's depth and its reconnects on /metrics. */
async function serveWorkerMetrics(
  { serveMetrics }: typeof import('@taskwire/metrics'),
  worker: Worker,
  connection: Connection,
  options: MetricsFlags,
  log: Logger,
): Promise<ServedMetrics> {
  const served = await serveMetrics({
    connection,
    queues: [worker.queueName],
    port: options.metricsPort!,
    host: options.metricsHost,
    workers: false,
  });
  served.tasks.observeWorker(worker);
  log.info(`metrics on ${served.url}`, { url: served.url });
  return served;
}

function exitWithParent(log: Logger): void {
  const gone = () => {
    log.error('the master that started this worker is gone; exiting');
    process.exit(1);
  };
  if (!process.connected) gone();
  process.once('disconnect', gone);
}

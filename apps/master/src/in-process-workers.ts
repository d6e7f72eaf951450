import { type IsolationFlags, loadRunnableHandler, type RunnableHandler } from '@taskwire/cli-kit';
import { type Connection, type Transport, Worker } from '@taskwire/core';

/** Options of {@link InProcessWorkers}. */
export interface InProcessWorkerOptions {
  count: number;
  transport: Transport;
  url: string | undefined;
  queue: string;
  handler: string;
  concurrency: number | undefined;
  /** `--isolate`, `--threads`, `--task-timeout`: one thread pool shared by the workers. */
  isolation?: IsolationFlags;
}

/**
 * `--workers K` on `memory://`: the queues live in this process, so the workers must too. Each
 * gets its own connection, as a worker process would.
 */
export class InProcessWorkers {
  private readonly running: { worker: Worker; connection: Connection }[] = [];
  private runnable: RunnableHandler | undefined;

  constructor(private readonly options: InProcessWorkerOptions) {}

  /** Start the workers. */
  async start(): Promise<void> {
    const isolation = this.options.isolation ?? {};
    this.runnable = await loadRunnableHandler(this.options.handler, isolation);
    for (let i = 0; i < this.options.count; i++) {
      const connection = await this.options.transport.connect({ url: this.options.url });
      const worker = await Worker.start({
        connection,
        handler: this.runnable.handler,
        queue: this.options.queue,
        concurrency: this.options.concurrency ?? this.runnable.defaultConcurrency,
        name: `local-${i + 1}:${process.pid}`,
        taskTimeoutMs: isolation.taskTimeout,
      });
      this.running.push({ worker, connection });
    }
  }

  /** Finish in-flight tasks, then close. */
  async stop(): Promise<void> {
    for (const { worker, connection } of this.running.splice(0)) {
      await worker.stop();
      await connection.close();
    }
    await this.runnable?.close();
  }
}

import { type ChildProcess, fork } from 'node:child_process';
import { createRequire } from 'node:module';

/** Options for the worker processes `--workers K` starts. */
export interface LocalWorkerOptions {
  count: number;
  /** `taskwire-worker` arguments (transport, url, queue, handler, concurrency). */
  args: string[];
  /** Extra environment; secrets go here, never on the command line (visible in `ps`). */
  env: NodeJS.ProcessEnv;
  /** Called when a worker exits before {@link LocalWorkers.stop}. */
  onUnexpectedExit: (index: number, code: number | null, signal: NodeJS.Signals | null) => void;
}

/** `taskwire-worker` child processes run by the master, so one command runs a whole job. */
export class LocalWorkers {
  private readonly children: ChildProcess[] = [];
  private stopping = false;

  constructor(private readonly options: LocalWorkerOptions) {}

  /** Start the workers. */
  start(): void {
    const cli = createRequire(import.meta.url).resolve('taskwire-worker/cli');
    for (let i = 0; i < this.options.count; i++) {
      const child = fork(cli, [...this.options.args, '--name', `local-${i + 1}:${process.pid}`], {
        // The worker exits when its IPC channel to this process closes (this master died).
        env: { ...process.env, ...this.options.env, TASKWIRE_EXIT_WITH_PARENT: '1' },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      child.once('exit', (code, signal) => {
        if (!this.stopping) this.options.onUnexpectedExit(i, code, signal);
      });
      this.children.push(child);
    }
  }

  /** Workers still running. */
  get alive(): number {
    return this.children.filter((child) => child.exitCode === null && child.signalCode === null).length;
  }

  /** Process ids (for tests and logs). */
  get pids(): number[] {
    return this.children.map((child) => child.pid!).filter(Boolean);
  }

  /** SIGKILL every worker at once (the master is exiting without waiting). */
  kill(): void {
    this.stopping = true;
    for (const child of this.children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }

  /** SIGTERM every worker (they finish in-flight tasks) and wait for them, up to `timeoutMs`. */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
  }
}

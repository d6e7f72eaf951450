import { type ChildProcess, spawn } from 'node:child_process';
import type { WriteStream } from 'node:fs';
import { HANDLER_PATH, WORKER_BIN } from './commands.js';

/** How the chaos workers run: the real `taskwire-worker` CLI with the chaos handler. */
export interface WorkerSpec {
  transport: string;
  url: string;
  queue: string;
  env: Record<string, string>;
  concurrency: number;
  prefetch: number;
  /** Where the workers' stderr goes (one log per cell). */
  log: WriteStream;
}

/** Wait before a dead worker is started again: a supervisor's restart, not an instant one. */
const RESTART_DELAY_MS = 250;

/**
 * `count` real worker processes, supervised: a worker that dies (SIGKILL, a poison task) is started
 * again after {@link RESTART_DELAY_MS}, as systemd or Kubernetes would, until {@link stop}.
 */
export class WorkerPool {
  private readonly slots: (ChildProcess | undefined)[];
  private stopping = false;
  /** Workers that died (any cause) while the pool ran. */
  deaths = 0;

  constructor(
    private readonly spec: WorkerSpec,
    count: number,
  ) {
    this.slots = new Array<ChildProcess | undefined>(count).fill(undefined);
  }

  get size(): number {
    return this.slots.length;
  }

  start(): void {
    for (let index = 0; index < this.slots.length; index++) this.spawn(index);
  }

  private spawn(index: number): void {
    const { spec } = this;
    const child = spawn(
      process.execPath,
      [
        WORKER_BIN,
        ...['--transport', spec.transport, '--queue', spec.queue, '--handler', HANDLER_PATH],
        ...['--concurrency', String(spec.concurrency), '--prefetch', String(spec.prefetch)],
      ],
      // The URL may carry a password: environment, not argv.
      { env: { ...process.env, ...spec.env, TASKWIRE_URL: spec.url }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr?.pipe(spec.log, { end: false });
    this.slots[index] = child;
    child.once('exit', (code, signal) => {
      if (this.slots[index] !== child) return;
      this.slots[index] = undefined;
      if (this.stopping) return;
      this.deaths++;
      spec.log.write(`chaos: worker ${index} exited (${signal ?? `code ${code}`}); restarting\n`);
      setTimeout(() => {
        if (!this.stopping) this.spawn(index);
      }, RESTART_DELAY_MS);
    });
  }

  /** Send `signal` to worker `index` (SIGKILL, SIGSTOP, SIGCONT); false when it is not running. */
  signal(index: number, signal: NodeJS.Signals): boolean {
    const child = this.slots[index % this.slots.length];
    return child?.pid !== undefined && child.exitCode === null && child.kill(signal);
  }

  /** Stop every worker: SIGCONT (a stopped one cannot exit), SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopping = true;
    const running = this.slots.filter(
      (child): child is ChildProcess =>
        child !== undefined && child.exitCode === null && child.signalCode === null,
    );
    await Promise.all(
      running.map(async (child) => {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGCONT');
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}

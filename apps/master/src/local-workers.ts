import { type ChildProcess, fork } from 'node:child_process';
import { createRequire } from 'node:module';
// The subpath, not the package: this module loads before anything else (see cli.ts).
import { HANDOFF_ENV, sendHandoff } from '@taskwire/cli-kit/handoff';

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

/** More `--workers` than this are not forked ahead; {@link LocalWorkers.start} forks the rest. */
const MAX_PREFORKED = 64;

/** Workers forked by {@link preforkLocalWorkers}, waiting for their arguments. */
const preforked: ChildProcess[] = [];

/** Fork a `taskwire-worker` that waits for its arguments (see `receiveHandoff`). */
function forkWaitingWorker(): ChildProcess {
  const cli = createRequire(import.meta.url).resolve('taskwire-worker/cli');
  return fork(cli, [], {
    // The worker exits when its IPC channel to this process closes (this master died).
    env: { ...process.env, TASKWIRE_EXIT_WITH_PARENT: '1', [HANDOFF_ENV]: '1' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/**
 * The `--workers` count on a command line, read before commander parses it (0 when absent,
 * malformed, with --help or --version, or on `memory://`, whose workers run in process). A
 * misreading only forks workers the master then discards.
 */
export function workersRequested(argv: readonly string[]): number {
  let count = 0;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    if (['-h', '--help', '-V', '--version'].includes(arg)) return 0;
    if (/^(--(transport|url)=)?memory(:|$)/.test(arg)) return 0;
    const value = arg === '--workers' ? argv[++i] : arg.startsWith('--workers=') ? arg.slice(10) : undefined;
    if (value !== undefined) count = /^\d+$/.test(value) ? Number(value) : 0;
  }
  return Math.min(count, MAX_PREFORKED);
}

/**
 * Fork `count` workers now, to be given their arguments by the next {@link LocalWorkers.start}.
 * Those it does not take, {@link discardPreforkedWorkers} ends; the rest end with this process
 * (their IPC channel closes).
 */
export function preforkLocalWorkers(count: number): void {
  for (let i = 0; i < count; i++) preforked.push(forkWaitingWorker());
}

/** End the pre-forked workers nobody took (the job needs none, or fewer). */
export function discardPreforkedWorkers(): void {
  for (const child of preforked.splice(0)) child.kill('SIGKILL');
}

/** `taskwire-worker` child processes run by the master, so one command runs a whole job. */
export class LocalWorkers {
  private readonly children: ChildProcess[] = [];
  private stopping = false;

  constructor(private readonly options: LocalWorkerOptions) {}

  /** Start the workers: hand the pre-forked ones their arguments, fork the others. */
  start(): void {
    const env = Object.fromEntries(
      Object.entries(this.options.env).filter((entry): entry is [string, string] => entry[1] !== undefined),
    );
    for (let i = 0; i < this.options.count; i++) {
      const child = preforked.shift() ?? forkWaitingWorker();
      const reportExit = (code: number | null, signal: NodeJS.Signals | null) => {
        if (!this.stopping) this.options.onUnexpectedExit(i, code, signal);
      };
      // A pre-forked worker may have died already (say it failed to load).
      if (child.exitCode !== null || child.signalCode !== null) {
        const { exitCode, signalCode } = child;
        queueMicrotask(() => reportExit(exitCode, signalCode));
      } else child.once('exit', reportExit);
      sendHandoff(child, { args: [...this.options.args, '--name', `local-${i + 1}:${process.pid}`], env });
      this.children.push(child);
    }
    discardPreforkedWorkers();
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

import { ConfigError, type TaskHandler } from '@taskwire/core';
import type { Command } from 'commander';
import { loadHandler } from './handlers.js';

/** Where handlers run: in the worker's own thread, or in a pool of worker threads. */
export type IsolationMode = 'none' | 'threads';

/** The isolation and timeout flags both CLIs take (the master passes them to its local workers). */
export interface IsolationFlags {
  /** `none` (default) or `threads`. */
  isolate?: IsolationMode;
  /** Threads of `--isolate threads`. @default os.availableParallelism() */
  threads?: number;
  /** Milliseconds an attempt may run before it is abandoned and counted as failed. */
  taskTimeout?: number;
}

// Bad values are ConfigErrors rather than commander's InvalidArgumentError: commander lets them
// through parse(), so they print as one line and exit 2 like every other configuration error.
const isolationMode = (value: string): IsolationMode => {
  if (value === 'none' || value === 'threads') return value;
  throw new ConfigError(`--isolate must be none or threads, not "${value}"`);
};
const integerUpTo = (flag: string, max: number) => (value: string) => {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > max) {
    throw new ConfigError(`${flag} must be an integer from 1 to ${max}, not "${value}"`);
  }
  return n;
};
// Node's timers wait at most 2³¹−1 ms (about 24.8 days); core refuses longer task timeouts.
const MAX_TASK_TIMEOUT_MS = 2 ** 31 - 1;

/** Add `--isolate`, `--threads` and `--task-timeout` to a commander program. */
export function addIsolationOptions(program: Command): Command {
  return program
    .option(
      '--isolate <mode>',
      'run handlers in this thread (none) or in a pool of worker threads (threads)',
      isolationMode,
    )
    .option(
      '--threads <n>',
      '--isolate threads: threads in the pool (default: available cores)',
      integerUpTo('--threads', 1024),
    )
    .option(
      '--task-timeout <ms>',
      'fail an attempt (retried with backoff) that runs longer than this',
      integerUpTo('--task-timeout', MAX_TASK_TIMEOUT_MS),
    );
}

/** The same flags as `taskwire-worker` arguments. */
export function isolationArgs(flags: IsolationFlags): string[] {
  return [
    ...(flags.isolate ? ['--isolate', flags.isolate] : []),
    ...(flags.threads ? ['--threads', String(flags.threads)] : []),
    ...(flags.taskTimeout ? ['--task-timeout', String(flags.taskTimeout)] : []),
  ];
}

/** A loaded handler and what releases it. */
export interface RunnableHandler {
  handler: TaskHandler | Record<string, TaskHandler>;
  /** Tasks at once when the user gave no `--concurrency`: one per thread under isolation. */
  defaultConcurrency: number;
  close(): Promise<void>;
}

/**
 * Load `spec` (see {@link loadHandler}) in this thread or, with `isolate: 'threads'`, in a thread
 * pool (`onThreadError`: see `ThreadPoolOptions.onError`).
 */
export async function loadRunnableHandler(
  spec: string,
  flags: IsolationFlags,
  onThreadError?: (error: Error) => void,
): Promise<RunnableHandler> {
  if (flags.threads !== undefined && flags.isolate !== 'threads') {
    throw new ConfigError('--threads needs --isolate threads');
  }
  if (flags.isolate === 'threads') {
    // Loaded only here: piscina costs a worker that runs handlers in its own thread ~30 ms of start-up.
    const { startThreadPool } = await import('./thread-pool.js');
    const pool = await startThreadPool(spec, { threads: flags.threads, onError: onThreadError });
    // More tasks at once than threads would only queue in the pool, where a task's timeout
    // already runs; one per thread keeps the rest in the broker for other workers.
    return { handler: pool.handler, defaultConcurrency: pool.threads, close: () => pool.close() };
  }
  return { handler: await loadHandler(spec), defaultConcurrency: 16, close: async () => undefined };
}

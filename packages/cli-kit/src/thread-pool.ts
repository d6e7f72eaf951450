import { availableParallelism } from 'node:os';
import { ConfigError, type TaskContext, type TaskErrorInfo, type TaskHandler } from '@taskwire/core';
import { Piscina } from 'piscina';
import type { ThreadData, ThreadReply, ThreadRequest } from './thread-entry.js';

/** Options of {@link startThreadPool}. */
export interface ThreadPoolOptions {
  /** Threads in the pool. @default os.availableParallelism() */
  threads?: number;
  /**
   * A thread failed outside any task (say a handler's timer threw after it returned); the pool
   * replaces the thread. @default print a warning
   */
  onError?: (error: Error) => void;
}

/** Handlers that run in a pool of worker threads. */
export interface ThreadPoolHandler {
  /**
   * For `WorkerOptions.handler`: one function, or one per kind when the module exports an object
   * of handlers (so an unknown kind fails at once, as it does in process).
   */
  handler: TaskHandler | Record<string, TaskHandler>;
  /** Threads in the pool. */
  threads: number;
  /** Terminate every thread (tasks still running are abandoned). */
  close(): Promise<void>;
}

/** Rebuild a handler error from its plain form, keeping name, message, stack, code and cause. */
function reviveError(info: TaskErrorInfo): Error {
  const error = new Error(info.message, info.cause ? { cause: reviveError(info.cause) } : undefined);
  error.name = info.name;
  if (info.stack !== undefined) error.stack = info.stack;
  if (info.code !== undefined) Object.assign(error, { code: info.code });
  return error;
}

/**
 * Run the `--handler` module (`spec`: a built-in name, a module path or a package, as
 * {@link loadHandler} takes) in a piscina pool of worker threads. Each thread loads the module once.
 * A CPU-bound handler then blocks a thread, not the worker's event loop (heartbeats, acks and
 * results keep flowing), and uses every core. When a task's `context.signal` aborts (its
 * timeout) the thread running it is terminated and replaced.
 *
 * Payloads, results and the module itself must be loadable and structured-cloneable in a thread.
 * Resolves once one thread has loaded the module; a module that fails to load is a `ConfigError`.
 */
export async function startThreadPool(
  spec: string,
  options: ThreadPoolOptions = {},
): Promise<ThreadPoolHandler> {
  const threads = options.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) throw new ConfigError('threads must be an integer ≥ 1');
  const workerData: ThreadData = { handler: spec };
  const pool = new Piscina<ThreadRequest, ThreadReply>({
    filename: new URL('./thread-entry.js', import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    // Keep the threads (and the module each loaded) for the worker's lifetime.
    idleTimeout: Number.POSITIVE_INFINITY,
    // Wait for tasks without blocking the thread's event loop, so a handler's own timers and
    // sockets (a database pool, say) stay alive between tasks.
    atomics: 'async',
    workerData,
  });

  // Without a listener such an error would be an unhandled 'error' event: the whole worker would crash.
  pool.on('error', options.onError ?? ((error: Error) => process.emitWarning(error)));

  const described = await pool.run({ op: 'describe' });
  if (!described.ok) {
    await pool.destroy();
    throw new ConfigError(
      `cannot load handler "${spec}" in a thread: ${'loadError' in described ? described.loadError : 'unknown error'}`,
    );
  }
  const kinds = 'kinds' in described ? described.kinds : null;

  const run: TaskHandler = async (payload: unknown, context: TaskContext) => {
    // Only the plain fields cross the thread boundary; the signal stays here and tells piscina to
    // terminate the thread when the attempt is abandoned.
    const { signal } = context;
    const request: ThreadRequest = {
      op: 'run',
      payload,
      context: {
        taskId: context.taskId,
        kind: context.kind,
        attempt: context.attempt,
        maxAttempts: context.maxAttempts,
        worker: context.worker,
        broadcast: context.broadcast,
      },
    };
    let reply: ThreadReply;
    try {
      reply = await pool.run(request, { signal });
    } catch (error) {
      // piscina's AbortError says less than the reason the worker aborted with (its TaskTimeoutError).
      if (signal.aborted) throw signal.reason;
      throw error;
    }
    if (reply.ok) return 'value' in reply ? reply.value : undefined;
    if ('error' in reply) throw reviveError(reply.error);
    throw new Error(reply.loadError);
  };

  return {
    handler: kinds === null ? run : Object.fromEntries(kinds.map((kind) => [kind, run])),
    threads,
    close: () => pool.destroy(),
  };
}

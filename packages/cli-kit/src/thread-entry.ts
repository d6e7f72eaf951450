// Runs inside each piscina thread: loads the user's handler module once, then runs the tasks the
// pool sends. Everything that crosses the thread boundary is plain (structured-cloneable) data.
import { errorInfo, type TaskContext, type TaskErrorInfo, type TaskHandler } from '@taskwire/core';
import { workerData } from 'piscina';
import { loadHandler } from './handlers.js';

/** The plain part of a `TaskContext` (an `AbortSignal` cannot cross threads). */
export type ThreadTaskContext = Omit<TaskContext, 'signal'>;

/** What the pool sends a thread. */
export type ThreadRequest = { op: 'describe' } | { op: 'run'; payload: unknown; context: ThreadTaskContext };

/** What a thread sends back. */
export type ThreadReply =
  | { ok: true; value: unknown }
  /** A handler error as plain data, so its name, stack, code and cause survive the trip. */
  | { ok: false; error: TaskErrorInfo }
  /** `describe`: the kinds the module exports handlers for (null: one handler for every kind). */
  | { ok: true; kinds: string[] | null }
  | { ok: false; loadError: string };

/** Data the pool gives every thread. */
export interface ThreadData {
  /** `--handler`: a built-in name or a module path / package name. */
  handler: string;
}

let loading: Promise<TaskHandler | Record<string, TaskHandler>> | undefined;
const load = () => {
  loading ??= loadHandler((workerData as ThreadData).handler);
  return loading;
};

// Handlers run here cannot be aborted cooperatively (the pool terminates the thread instead), but
// code written for the in-process mode may read `context.signal`, so it gets one that never fires.
const neverAborted = new AbortController().signal;

/** piscina's task function. */
export default async function runInThread(request: ThreadRequest): Promise<ThreadReply> {
  let handlers: TaskHandler | Record<string, TaskHandler>;
  try {
    handlers = await load();
  } catch (error) {
    return { ok: false, loadError: (error as Error).message };
  }
  if (request.op === 'describe') {
    return { ok: true, kinds: typeof handlers === 'function' ? null : Object.keys(handlers) };
  }
  const { payload, context } = request;
  const handler = typeof handlers === 'function' ? handlers : handlers[context.kind];
  try {
    if (!handler) throw new Error(`no handler for task kind "${context.kind}"`);
    const taskContext = { ...context, signal: neverAborted };
    return { ok: true, value: await handler(payload, taskContext) };
  } catch (error) {
    return { ok: false, error: errorInfo(error) };
  }
}

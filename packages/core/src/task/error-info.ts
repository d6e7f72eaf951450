/** A handler's failure, as it travels back to the master: what Celery users get as the traceback. */
export interface TaskErrorInfo {
  name: string;
  message: string;
  /** The stack trace where the error was created, when it has one. */
  stack?: string;
  /** The error's `code` (Node's `ENOENT`, taskwire's `TASKWIRE_*`…), when it is a string. */
  code?: string;
  /** What caused it (`error.cause`), recursively. */
  cause?: TaskErrorInfo;
}

// A cause chain is followed this deep: enough for any real chain, and a cyclic one stops.
const MAX_CAUSE_DEPTH = 8;

/** Turn anything thrown into plain data that every codec can carry: name, message, stack, code, cause chain. */
export function errorInfo(error: unknown, depth = 0): TaskErrorInfo {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const info: TaskErrorInfo = { name: String(error.name), message: String(error.message) };
  if (typeof error.stack === 'string') info.stack = error.stack;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') info.code = code;
  if (error.cause !== undefined && depth < MAX_CAUSE_DEPTH) info.cause = errorInfo(error.cause, depth + 1);
  return info;
}

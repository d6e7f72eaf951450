import type { TaskErrorInfo } from './error-info.js';

/** What a master puts on the task queue. */
export interface TaskEnvelope<P = unknown> {
  /** Unique task id; results are matched to tasks by it. */
  id: string;
  /** Which handler runs it. */
  kind: string;
  /** The task's input. */
  payload: P;
  /** Attempts allowed before the task fails for good. */
  maxAttempts: number;
  /** The queue the result goes to (the submitting master's result queue). */
  replyTo: string;
  /** Milliseconds since the epoch when the task was submitted. */
  createdAt: number;
  /** Longest one attempt may run, in ms; overrides the worker's `taskTimeoutMs`. */
  timeoutMs?: number;
  /** Its priority on a priority queue, kept so a retry is put back with it. */
  priority?: number;
  /**
   * Attempts spent before this copy was put: a failed attempt is retried as a fresh copy carrying the count, so
   * the transport's delivery count of a copy counts only deliveries lost with their worker. @default 0
   */
  priorAttempts?: number;
  /**
   * W3C trace context of the span that submitted the task (`traceparent` and `tracestate` header values), when
   * the master traces (see the README's Tracing): the worker's span is its child.
   */
  traceparent?: string;
  tracestate?: string;
  /**
   * On a task in a dead-letter queue only: why its last attempt failed, stack and cause chain included (what
   * `taskwire peek` and the dashboard show). Its `priorAttempts` are cleared there, so a task moved back to its
   * queue gets every attempt again.
   */
  failure?: TaskErrorInfo;
}

export type { TaskErrorInfo } from './error-info.js';

/** What a worker puts on the master's result queue. */
export interface TaskResult<R = unknown, P = unknown> {
  /** The task this answers. */
  taskId: string;
  /** True when the handler returned a value. */
  ok: boolean;
  /** The handler's return value (when `ok`). */
  value?: R;
  /** Why it failed (when not `ok`). */
  error?: TaskErrorInfo;
  /** The worker that ran the final attempt. */
  worker: string;
  /** Which attempt this result came from. */
  attempt: number;
  /** When the final attempt started and finished (ms since the epoch). */
  startedAt: number;
  finishedAt: number;
  /** The task's payload, echoed by the master for convenience (not sent over the wire). */
  payload?: P;
}

import type { TaskEnvelope, TaskResult } from './envelope.js';
import type { TaskErrorInfo } from './error-info.js';

// Tasks and results travel as msgpack arrays, not maps: no key strings to write, read and intern on every task
// (a third of a small task's bytes), and no per-key walk in the codec. Optional fields trail, so a task without
// them is six elements. Objects of the same shape are still read, so hand-made tasks keep working.

/**
 * A task as it travels:
 * `[id, kind, payload, maxAttempts, replyTo, createdAt, timeoutMs?, priority?, priorAttempts?, traceparent?, tracestate?,
 * failure?]`. The trace context trails: a task without one is as short (and as cheap) as before, and a worker that
 * predates it ignores it. `failure` is only on a copy in a dead-letter queue.
 */
export type TaskTuple = [
  string,
  string,
  unknown,
  number,
  string,
  number,
  (number | null)?,
  (number | null)?,
  (number | null)?,
  (string | null)?,
  (string | null)?,
  TaskErrorInfo?,
];

/** A result as it travels: `[taskId, ok, value | error, worker, attempt, startedAt, finishedAt]`. */
export type ResultTuple = [string, boolean, unknown, string, number, number, number];

/** The form a task is put on its queue in. */
export function taskToWire(task: TaskEnvelope): TaskTuple {
  const tuple: TaskTuple = [task.id, task.kind, task.payload, task.maxAttempts, task.replyTo, task.createdAt];
  if (task.failure !== undefined) {
    tuple.push(
      task.timeoutMs ?? null,
      task.priority ?? null,
      task.priorAttempts || null,
      task.traceparent ?? null,
      task.tracestate ?? null,
      task.failure,
    );
  } else if (task.traceparent !== undefined) {
    tuple.push(task.timeoutMs ?? null, task.priority ?? null, task.priorAttempts || null, task.traceparent);
    if (task.tracestate) tuple.push(task.tracestate);
  } else if (task.priorAttempts)
    tuple.push(task.timeoutMs ?? null, task.priority ?? null, task.priorAttempts);
  else if (task.priority !== undefined) tuple.push(task.timeoutMs ?? null, task.priority);
  else if (task.timeoutMs !== undefined) tuple.push(task.timeoutMs);
  return tuple;
}

/** The task in a queue item, or undefined when the item is not a task (poison). */
export function readTask(value: unknown): TaskEnvelope | undefined {
  if (!Array.isArray(value)) return isTaskObject(value) ? value : undefined;
  const [
    id,
    kind,
    payload,
    maxAttempts,
    replyTo,
    createdAt,
    timeoutMs,
    priority,
    priorAttempts,
    traceparent,
    tracestate,
    failure,
  ] = value;
  if (
    typeof id !== 'string' ||
    typeof kind !== 'string' ||
    typeof maxAttempts !== 'number' ||
    typeof replyTo !== 'string' ||
    typeof createdAt !== 'number'
  ) {
    return undefined;
  }
  const task: TaskEnvelope = { id, kind, payload, maxAttempts, replyTo, createdAt };
  if (typeof timeoutMs === 'number') task.timeoutMs = timeoutMs;
  if (typeof priority === 'number') task.priority = priority;
  if (typeof priorAttempts === 'number') task.priorAttempts = priorAttempts;
  if (typeof traceparent === 'string') {
    task.traceparent = traceparent;
    if (typeof tracestate === 'string') task.tracestate = tracestate;
  }
  if (
    typeof failure === 'object' &&
    failure !== null &&
    typeof (failure as TaskErrorInfo).message === 'string'
  ) {
    task.failure = failure as TaskErrorInfo;
  }
  return task;
}

/** The form a result is put on its master's result queue in. */
export function resultToWire(result: TaskResult): ResultTuple {
  return [
    result.taskId,
    result.ok,
    result.ok ? result.value : result.error,
    result.worker,
    result.attempt,
    result.startedAt,
    result.finishedAt,
  ];
}

/** The result in a result-queue item, or undefined when it is not one. */
export function readResult(value: unknown): TaskResult | undefined {
  if (!Array.isArray(value)) return isResultObject(value) ? value : undefined;
  const [taskId, ok, outcome, worker, attempt, startedAt, finishedAt] = value;
  if (typeof taskId !== 'string' || typeof ok !== 'boolean') return undefined;
  // One literal per outcome, `payload` included (the master fills it in): a fixed shape for V8.
  return ok
    ? {
        taskId,
        ok,
        value: outcome,
        worker: String(worker),
        attempt: Number(attempt),
        startedAt: Number(startedAt),
        finishedAt: Number(finishedAt),
        payload: undefined,
      }
    : {
        taskId,
        ok,
        error: outcome as TaskErrorInfo,
        worker: String(worker),
        attempt: Number(attempt),
        startedAt: Number(startedAt),
        finishedAt: Number(finishedAt),
        payload: undefined,
      };
}

function isTaskObject(value: unknown): value is TaskEnvelope {
  const task = value as TaskEnvelope | null;
  return (
    typeof task === 'object' &&
    task !== null &&
    typeof task.id === 'string' &&
    typeof task.kind === 'string' &&
    typeof task.replyTo === 'string' &&
    typeof task.maxAttempts === 'number'
  );
}

function isResultObject(value: unknown): value is TaskResult {
  const result = value as TaskResult | null;
  return (
    typeof result === 'object' &&
    result !== null &&
    typeof result.taskId === 'string' &&
    typeof result.ok === 'boolean'
  );
}

import { type PeekedItem, readResult, readTask, type TaskErrorInfo } from '@taskwire/core';

/** A queue item as the admin tools show it: the task it holds, and why it failed when it says so. */
export interface ItemView {
  id: string;
  state: 'ready' | 'delayed';
  attempts: number;
  readyAt?: number;
  priority?: number;
  /** The task's kind, when the item is a task. */
  kind?: string;
  /** The task's payload, or the whole item when it is not a task (bytes shown as base64). */
  payload?: unknown;
  createdAt?: number;
  maxAttempts?: number;
  /** The failure the item carries (a failed result, or an `error` field), with its stack. */
  error?: TaskErrorInfo;
  /** True when the item is neither a task nor a result: a poison message. */
  poison: boolean;
}

function plain(value: unknown): unknown {
  return value instanceof Uint8Array ? { base64: Buffer.from(value).toString('base64') } : value;
}

function errorField(body: unknown): TaskErrorInfo | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const error = (body as { error?: unknown }).error;
  if (typeof error === 'object' && error !== null && typeof (error as TaskErrorInfo).message === 'string') {
    return error as TaskErrorInfo;
  }
  return undefined;
}

/** Describe a peeked item: a task (with any error it carries), a failed result, or a poison message. */
export function viewItem(item: PeekedItem): ItemView {
  const base = {
    id: item.id,
    state: item.state,
    attempts: item.attempts,
    ...(item.readyAt !== undefined ? { readyAt: item.readyAt } : {}),
    ...(item.priority !== undefined ? { priority: item.priority } : {}),
  };
  const task = readTask(item.body);
  if (task) {
    const error = task.failure ?? errorField(item.body);
    return {
      ...base,
      kind: task.kind,
      payload: plain(task.payload),
      createdAt: task.createdAt,
      maxAttempts: task.maxAttempts,
      ...(error ? { error } : {}),
      poison: false,
    };
  }
  const result = readResult(item.body);
  if (result) {
    return {
      ...base,
      payload: plain(result.value),
      ...(result.error ? { error: result.error } : {}),
      poison: false,
    };
  }
  return { ...base, payload: plain(item.body), poison: true };
}

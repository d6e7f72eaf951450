import type { QueueOptions } from '../types.js';

/** Default task queue name. */
export const DEFAULT_TASK_QUEUE = 'tasks';

/** The dead-letter queue of a task queue: tasks that failed every attempt, and poison messages. */
export const deadLetterQueueOf = (taskQueue: string) => `${taskQueue}.dead`;

/** The broadcast channel of a task queue. */
export const broadcastChannelOf = (taskQueue: string) => `${taskQueue}.broadcast`;

/**
 * Options a master and its workers both declare the task queue with. They must agree, or the
 * backend refuses the second declaration.
 */
export function taskQueueOptions(taskQueue: string, extra: QueueOptions = {}): QueueOptions {
  return { deadLetter: deadLetterQueueOf(taskQueue), ...extra };
}

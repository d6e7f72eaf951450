export { type BackoffOptions, backoffDelay } from './backoff.js';
export * from './codec.js';
export * from './config.js';
export * from './duration.js';
export * from './errors.js';
export {
  createMemoryTransport,
  MEMORY_CAPABILITIES,
  MemoryTransport,
} from './memory/transport.js';
export { MAX_PAYLOAD_DEPTH } from './payload-check.js';
export * from './registry.js';
export {
  announceDeparture,
  DepartedMasters,
  type DepartureNotice,
  isDepartureNotice,
} from './task/departure.js';
export type { TaskEnvelope, TaskResult } from './task/envelope.js';
export { errorInfo, type TaskErrorInfo } from './task/error-info.js';
export {
  type MapOptions,
  Master,
  type MasterEvents,
  type MasterOptions,
  type MasterProgress,
  type SubmitOptions,
} from './task/master.js';
export { broadcastChannelOf, DEFAULT_TASK_QUEUE, deadLetterQueueOf, taskQueueOptions } from './task/names.js';
export {
  DEFAULT_HEARTBEAT_MS,
  type RunningTask,
  WORKERS_CHANNEL,
  WorkerDirectory,
  type WorkerDirectoryEvents,
  type WorkerDirectoryOptions,
  type WorkerInfo,
} from './task/presence.js';
export { type ResultTuple, readResult, readTask, type TaskTuple } from './task/task-wire.js';
export {
  type TaskContext,
  type TaskHandler,
  Worker,
  type WorkerEvents,
  type WorkerOptions,
} from './task/worker.js';
export { type LongTimeout, MAX_TIMER_MS, setLongTimeout } from './timer.js';
export type * from './types.js';

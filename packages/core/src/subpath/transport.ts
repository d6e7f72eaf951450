/**
 * `@taskwire/core/transport`: what a transport author needs, and nothing a task-layer user does.
 *
 * Every transport in this repository is built from these pieces, so each refuses the same bad input with the same
 * error, settles a delivery once, never drops an undecodable payload, batches per event-loop turn and reconnects
 * with the same jittered backoff. See docs/decisions.md ("The transport-author kit").
 *
 * @packageDocumentation
 */
export { type BackoffOptions, backoffDelay } from '../backoff.js';
export { BackendError, type TaskwireErrorOptions } from '../errors.js';
export {
  backendCodeOf,
  isRetryable,
  type WrapBackendErrorOptions,
  wrapBackendError,
} from '../kit/backend-error.js';
export { ConnectionEvents } from '../kit/connection-events.js';
export { BaseDelivery, runHandler } from '../kit/delivery.js';
export {
  inspectable,
  peekedBody,
  type ResolvedMoveOptions,
  refuseInspection,
  resolveMoveOptions,
  resolvePeekLimit,
} from '../kit/inspection.js';
export { type ConsumerSource, PollingConsumer, type TakeResult } from '../kit/polling-consumer.js';
export { PollingQueue, type PollingQueueSettings } from '../kit/polling-queue.js';
export type {
  Awaitable,
  ItemLease,
  PolledItem,
  PollingStore,
  StorePut,
  TakeReply,
} from '../kit/polling-store.js';
export {
  checkPriority,
  checkPutOptions,
  checkQueueName,
  checkRedeclaration,
  DEFAULT_PREFETCH,
  PRIORITY_MAX,
  type ResolvedQueueOptions,
  resolvePrefetch,
  resolveQueueOptions,
} from '../kit/queue-options.js';
export {
  type InspectedItem,
  type InspectionStore,
  StoreInspection,
  type StoreMove,
} from '../kit/store-inspection.js';
export { TickBatcher, type TickBatcherOptions } from '../kit/tick-batcher.js';
export { decodeOrDeadLetter, UNDECODABLE, undecodableTarget } from '../kit/undecodable.js';
export { sharedWakeSignal, WakeSignal } from '../kit/wake-signal.js';

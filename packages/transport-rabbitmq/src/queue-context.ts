import type { Codec } from '@taskwire/core';
import type { QueueKind } from './arguments.js';
import type { Publisher } from './publisher.js';
import type { QueueIndexes } from './queue-index.js';
import type { ReconnectingConnection } from './reconnecting-connection.js';

/** What a queue handle shares with its connection. */
export interface QueueContext {
  readonly amqp: ReconnectingConnection;
  readonly publisher: Publisher;
  /** Where queues record what inspecting them needs (their delay queues, their dead-letter queue). */
  readonly indexes: QueueIndexes;
  readonly codec: Codec;
  /** Durable queues and persistent messages. */
  readonly durable: boolean;
  /** Classic or quorum queues, with the quorum delivery limit. */
  readonly kind: QueueKind;
  /** `prefetch` of `consume()` when not given. */
  readonly prefetch: number;
  /** A new item id, unique across processes. */
  nextId(): string;
}

import type { Codec } from '@taskwire/core';
import type { QueueKind } from './arguments.js';
import type { Publisher } from './publisher.js';
import type { ReconnectingConnection } from './reconnecting-connection.js';

/** What a queue handle shares with its connection. */
export interface QueueContext {
  readonly amqp: ReconnectingConnection;
  readonly publisher: Publisher;
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

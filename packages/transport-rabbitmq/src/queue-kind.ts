import { ConfigError, UnsupportedError } from '@taskwire/core';
import { DEFAULT_DELIVERY_LIMIT, type QueueKind, type QueueType } from './arguments.js';

/** The queue options of a connection, as given in code or as URL parameters. */
export interface QueueKindOptions {
  /**
   * `quorum` declares every queue of the connection as a replicated quorum queue (RabbitMQ 3.10 or later, durable
   * only, no `order: 'priority'`); `classic` as a classic queue. URL parameter `?queueType=quorum`.
   * @default 'classic'
   */
  queueType?: QueueType;
  /**
   * Quorum queues only: how often the broker may return one message unsettled (a consumer's channel or connection
   * lost, a native requeue) before it dead-letters it, a guard for messages taskwire's own attempt count cannot
   * see. Keep it at or above the task layer's largest `maxAttempts`. URL parameter `?deliveryLimit=20`.
   * @default 20
   */
  deliveryLimit?: number;
}

/** The URL parameters taskwire reads itself (amqplib never sees them). */
export const QUEUE_KIND_PARAMETERS = ['queueType', 'deliveryLimit'] as const;

/** Earliest RabbitMQ whose quorum queues have message TTL (delays) and at-least-once dead-lettering. */
const QUORUM_MIN_VERSION: readonly [number, number] = [3, 10];

/** Read `queueType` and `deliveryLimit` from a URL's parameters (strings, checked by {@link resolveQueueKind}). */
export function queueKindFromUrl(url: URL): { queueType?: string; deliveryLimit?: string } {
  const found: { queueType?: string; deliveryLimit?: string } = {};
  for (const key of QUEUE_KIND_PARAMETERS) {
    const value = url.searchParams.get(key);
    if (value !== null) found[key] = value;
  }
  return found;
}

/**
 * The connection's queue kind from its options and URL parameters (the two must agree when both are given). A
 * bad value is a `ConfigError`; quorum queues cannot be transient (`durable: false`).
 */
export function resolveQueueKind(
  options: QueueKindOptions & { durable?: boolean },
  fromUrl: { queueType?: string; deliveryLimit?: string } = {},
): QueueKind {
  const type = pick('queueType', options.queueType, fromUrl.queueType) ?? 'classic';
  if (type !== 'classic' && type !== 'quorum') {
    throw new ConfigError(`queueType must be 'classic' or 'quorum', got ${JSON.stringify(type)}`);
  }
  const limit = pick('deliveryLimit', options.deliveryLimit?.toString(), fromUrl.deliveryLimit);
  if (limit !== undefined && !/^[1-9]\d{0,8}$/.test(limit)) {
    throw new ConfigError(`deliveryLimit must be a whole number from 1 to 999999999, got ${limit}`);
  }
  if (type === 'classic') {
    if (limit !== undefined) {
      throw new ConfigError(`deliveryLimit applies to quorum queues only: add queueType 'quorum'`);
    }
    return { type, deliveryLimit: 0 };
  }
  if (options.durable === false) {
    throw new ConfigError(
      `quorum queues are always durable: remove durable: false or use queueType 'classic'`,
    );
  }
  return { type, deliveryLimit: limit === undefined ? DEFAULT_DELIVERY_LIMIT : Number(limit) };
}

/** One value given in code and/or in the URL; two different ones are a `ConfigError`. */
function pick(name: string, given: string | undefined, inUrl: string | undefined): string | undefined {
  if (given !== undefined && inUrl !== undefined && given !== inUrl) {
    throw new ConfigError(`${name} is ${given} in the options but ${inUrl} in the URL: give it once`);
  }
  return given ?? inUrl;
}

/**
 * Refuse quorum queues on a broker too old for what taskwire needs of them, naming both versions. `version` is
 * the broker's `server-properties` version (`3.10.8`, `4.1.0`); an unreadable one is let through.
 */
export function checkQuorumSupport(kind: QueueKind, version: unknown): void {
  if (kind.type !== 'quorum' || typeof version !== 'string') return;
  const match = /^(\d+)\.(\d+)/.exec(version);
  if (!match) return;
  const [major, minor] = [Number(match[1]), Number(match[2])];
  const [needMajor, needMinor] = QUORUM_MIN_VERSION;
  if (major > needMajor || (major === needMajor && minor >= needMinor)) return;
  throw new UnsupportedError(
    `queueType 'quorum' needs RabbitMQ ${needMajor}.${needMinor} or later (message TTL for delays and at-least-once dead-lettering); the broker is ${version}`,
  );
}

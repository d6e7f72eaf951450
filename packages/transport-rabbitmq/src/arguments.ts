import { type QueueOptions, UnsupportedError } from '@taskwire/core';
import { checkQueueName, resolveQueueOptions, undecodableTarget } from '@taskwire/core/transport';

/** Header carrying how many deliveries an item had before this copy was published. */
export const ATTEMPT_HEADER = 'x-taskwire-attempt';

/** Highest priority: the contract's 0–255 range maps onto `x-max-priority` directly. */
export const MAX_PRIORITY = 255;

/**
 * Longest queue name: RabbitMQ allows 255 bytes, and taskwire derives longer names from it (`<name>.delay.<ms>`,
 * `taskwire.options.<name>`).
 */
const MAX_NAME_BYTES = 200;

/** The RabbitMQ queue type taskwire declares: `classic` (one node) or `quorum` (replicated with Raft). */
export type QueueType = 'classic' | 'quorum';

/** How one connection declares its queues (from `queueType` and `deliveryLimit`). */
export interface QueueKind {
  readonly type: QueueType;
  /** Quorum queues: native redeliveries of one message before the broker dead-letters it. */
  readonly deliveryLimit: number;
}

/**
 * The broker's own poison guard on quorum queues (RabbitMQ 4's default, stated explicitly so every version
 * behaves the same): far above the task layer's default `maxAttempts` of 3.
 */
export const DEFAULT_DELIVERY_LIMIT = 20;

/** Classic queues, as before `queueType` existed. */
export const CLASSIC: QueueKind = Object.freeze({ type: 'classic', deliveryLimit: 0 });

/** Queue options as a RabbitMQ queue holds them: every field resolved, never LIFO. */
export interface RabbitQueueOptions {
  readonly order: 'fifo' | 'priority';
  readonly maxsize: number;
  readonly visibilityTimeoutMs: number;
  readonly deadLetter: string | undefined;
}

/**
 * Validate the name and options of a RabbitMQ queue with core's rules; LIFO is refused with `UnsupportedError`
 * because a RabbitMQ queue only ever serves its head.
 */
export function resolveRabbitQueueOptions(
  name: string,
  options: QueueOptions = {},
  kind: QueueKind = CLASSIC,
): RabbitQueueOptions {
  checkQueueName(name, MAX_NAME_BYTES);
  if (options.order === 'lifo') {
    throw new UnsupportedError(
      `order 'lifo' is not supported by the rabbitmq transport (RabbitMQ queues only serve from the head); use the memory, tcp or redis transport for LIFO queues`,
    );
  }
  if (options.order === 'priority' && kind.type === 'quorum') {
    throw new UnsupportedError(
      `order 'priority' is not supported on RabbitMQ quorum queues (3.x has no priorities, 4.x only two levels, not taskwire's 0–255); declare priority queues on a connection with queueType 'classic'`,
    );
  }
  const resolved = resolveQueueOptions(options) as RabbitQueueOptions;
  if (resolved.maxsize > 0 && kind.type === 'quorum') {
    throw new UnsupportedError(
      `maxsize is not supported on RabbitMQ quorum queues: their x-max-length is a soft limit (concurrent publishes are all accepted past it, and publishing resumes only well below it), not the exact bound taskwire promises; declare bounded queues on a connection with queueType 'classic'`,
    );
  }
  return resolved;
}

/** Arguments every queue of `kind` carries; a quorum queue's dead-lettering is at-least-once when `confirmed`. */
function kindArguments(kind: QueueKind, confirmed: boolean): Record<string, unknown> {
  if (kind.type === 'classic') return {};
  const args: Record<string, unknown> = {
    'x-queue-type': 'quorum',
    // Also what at-least-once dead-lettering requires: the broker only supports it with reject-publish.
    'x-overflow': 'reject-publish',
  };
  // At-least-once keeps a dead-lettered message in its queue until the target confirms it, so it is only
  // asked for when the target is declared with the queue (a missing target would hold messages for ever).
  if (confirmed) args['x-dead-letter-strategy'] = 'at-least-once';
  return args;
}

/** Broker arguments of the main queue. */
export function queueArguments(
  name: string,
  options: RabbitQueueOptions,
  kind: QueueKind = CLASSIC,
): Record<string, unknown> {
  const args: Record<string, unknown> = {
    ...kindArguments(kind, options.deadLetter !== undefined),
    // Rejected items are routed by the default exchange to the dead-letter queue by name.
    'x-dead-letter-exchange': '',
    'x-dead-letter-routing-key': undecodableTarget(name, options.deadLetter),
  };
  if (kind.type === 'quorum') args['x-delivery-limit'] = kind.deliveryLimit;
  if (options.order === 'priority') args['x-max-priority'] = MAX_PRIORITY;
  if (options.maxsize > 0) {
    args['x-max-length'] = options.maxsize;
    args['x-overflow'] = 'reject-publish';
  }
  return args;
}

/** Broker arguments of a queue taskwire declares for its own use (the default `<name>.dead`). */
export function plainQueueArguments(kind: QueueKind): Record<string, unknown> {
  return kindArguments(kind, false);
}

/**
 * The delay actually used for `delayMs`: rounded up to two significant digits (at most 10% late,
 * never early). Every distinct delay costs a TTL queue, and jittered retry backoffs would
 * otherwise create one queue per retry.
 */
export function delayBucket(delayMs: number): number {
  if (delayMs <= 100) return Math.max(1, Math.ceil(delayMs));
  const step = 10 ** (Math.floor(Math.log10(delayMs)) - 1);
  return Math.ceil(delayMs / step) * step;
}

/** Name of the TTL queue that holds items of `name` delayed by `delayMs`. */
export function delayQueueName(name: string, delayMs: number): string {
  return `${name}.delay.${delayMs}`;
}

/**
 * Name of the queue where delayed items of a bounded queue or a quorum queue wait once due, for a client-side mover
 * to put them into `name` with a confirmed publish (see {@link DueMover}).
 */
export function dueQueueName(name: string): string {
  return `${name}.due`;
}

/**
 * Whether the delayed items of a queue with `options` fall due into its due queue and reach it through the mover,
 * because the broker drops an item its (classic) delay queue dead-letters into a queue that cannot take it: a full
 * bounded queue, or a quorum queue whose leader is not elected yet (every item that fell due while its node
 * restarted was lost on RabbitMQ 3.10).
 */
export function fallsDueViaMover(options: { readonly maxsize: number }, kind: QueueKind): boolean {
  return options.maxsize > 0 || kind.type === 'quorum';
}

/** How long an unused delay queue lives after its last declaration (beyond its delay). */
export const DELAY_QUEUE_IDLE_MS = 60_000;

/**
 * Broker arguments of a delay queue: every item waits `delayMs` (one TTL per queue, so expiry at
 * the head is exact) and is then dead-lettered into `target` (the queue itself, or its due queue: see
 * {@link fallsDueViaMover}). No plugin needed. Always a classic queue, for quorum queues too: on RabbitMQ 3.10 a
 * quorum TTL queue restarted with its node lost its items (they neither expired into the target nor
 * stayed; docs/decisions.md).
 */
export function delayQueueArguments(name: string, delayMs: number, target = name): Record<string, unknown> {
  return {
    'x-message-ttl': delayMs,
    'x-dead-letter-exchange': '',
    'x-dead-letter-routing-key': target,
    'x-expires': delayMs + DELAY_QUEUE_IDLE_MS,
  };
}

/**
 * RabbitMQ compares only the arguments it knows when a queue is redeclared, so options that are
 * not broker arguments are recorded in the `alternate-exchange` argument of an inert marker
 * exchange (one the broker does compare): a mismatch is rejected by the broker itself.
 */
export function optionsExchangeName(name: string): string {
  return `taskwire.options.${name}`;
}

/** The marker exchange's recorded options. */
export function optionsRecord(options: RabbitQueueOptions): string {
  return `taskwire:visibilityTimeoutMs=${options.visibilityTimeoutMs}`;
}

/** Which taskwire option a broker argument named in a PRECONDITION_FAILED stands for. */
export function optionForArgument(argument: string): string {
  switch (argument) {
    case 'x-max-priority':
      return 'order';
    case 'x-max-length':
      return 'maxsize';
    case 'x-dead-letter-exchange':
    case 'x-dead-letter-routing-key':
      return 'deadLetter';
    // Quorum queues carry these whatever their options, so a classic/quorum mismatch may surface as either.
    case 'x-overflow':
      return 'maxsize or queueType';
    case 'x-dead-letter-strategy':
      return 'queueType or deadLetter';
    case 'alternate-exchange':
      return 'visibilityTimeoutMs';
    case 'durable':
      return 'durable';
    case 'x-queue-type':
      return 'queueType';
    case 'x-delivery-limit':
      return 'deliveryLimit or queueType';
    default:
      return argument;
  }
}

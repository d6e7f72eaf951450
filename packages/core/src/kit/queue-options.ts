import { checkDuration, checkOptionalDuration } from '../duration.js';
import { ConfigError } from '../errors.js';
import type { PutOptions, QueueOptions, QueueOrder } from '../types.js';

/** Queue options with every field present: what {@link resolveQueueOptions} returns. */
export interface ResolvedQueueOptions {
  readonly order: QueueOrder;
  /** 0 = unbounded. */
  readonly maxsize: number;
  /** 0 = never. */
  readonly visibilityTimeoutMs: number;
  /** Where nacked-without-requeue items go; undefined = dropped (undecodable ones go to `<name>.dead`). */
  readonly deadLetter: string | undefined;
}

/** Highest priority of a put: the contract's range is 0–255. */
export const PRIORITY_MAX = 255;

/** `prefetch` of `consume()` when the caller gives none. */
export const DEFAULT_PREFETCH = 100;

/**
 * Validate a queue name: a non-empty string, and at most `maxBytes` bytes of UTF-8 when the backend has a limit
 * (RabbitMQ: 255, minus room for the names taskwire derives from it).
 * @throws TypeError naming the limit.
 */
export function checkQueueName(name: string, maxBytes?: number): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError(
      maxBytes === undefined
        ? 'queue name must be a non-empty string'
        : `queue name must be a non-empty string of at most ${maxBytes} bytes`,
    );
  }
  if (maxBytes !== undefined && Buffer.byteLength(name) > maxBytes) {
    throw new TypeError(`queue name must be a non-empty string of at most ${maxBytes} bytes`);
  }
  return name;
}

/**
 * Validate queue options and fill in the defaults, so every backend refuses the same bad input with the same
 * error: a `TypeError` for a bad `order`, `maxsize` or `deadLetter`, a `RangeError` for a bad duration.
 * A backend that lacks an order (RabbitMQ and LIFO) refuses it itself, with `UnsupportedError`, before this.
 */
export function resolveQueueOptions(options: QueueOptions = {}): ResolvedQueueOptions {
  const order = options.order ?? 'fifo';
  if (order !== 'fifo' && order !== 'lifo' && order !== 'priority') {
    throw new TypeError(`order must be 'fifo', 'lifo' or 'priority', got ${String(order)}`);
  }
  const maxsize = options.maxsize ?? 0;
  if (!Number.isInteger(maxsize) || maxsize < 0) throw new TypeError('maxsize must be an integer ≥ 0');
  const visibilityTimeoutMs = checkDuration(options.visibilityTimeoutMs ?? 0, 'visibilityTimeoutMs');
  if (options.deadLetter !== undefined && (typeof options.deadLetter !== 'string' || !options.deadLetter)) {
    throw new TypeError('deadLetter must be a queue name');
  }
  return { order, maxsize, visibilityTimeoutMs, deadLetter: options.deadLetter };
}

/**
 * Check a declaration against the queue that already exists: every option the caller gave must match. Options
 * left out are taken from the existing queue, which is returned.
 * @throws ConfigError naming the queue and the first option that differs.
 */
export function checkRedeclaration(
  name: string,
  existing: ResolvedQueueOptions,
  given: QueueOptions | undefined,
): ResolvedQueueOptions {
  const wanted = resolveQueueOptions(given);
  for (const key of Object.keys(wanted) as (keyof ResolvedQueueOptions)[]) {
    if (given?.[key] !== undefined && existing[key] !== wanted[key]) {
      throw new ConfigError(
        `queue "${name}" already exists with ${key}=${String(existing[key])}; requested ${key}=${String(wanted[key])}`,
      );
    }
  }
  return existing;
}

/**
 * Validate a put's priority: an integer 0–{@link PRIORITY_MAX}; undefined is 0.
 * @throws TypeError for anything else.
 */
export function checkPriority(priority: number | undefined): number {
  if (priority === undefined) return 0;
  if (!Number.isInteger(priority) || priority < 0 || priority > PRIORITY_MAX) {
    throw new TypeError(`priority must be an integer 0–${PRIORITY_MAX}, got ${priority}`);
  }
  return priority;
}

/**
 * Validate a put's durations (`delayMs`, `timeoutMs`) before anything is sent, so a bad one fails locally.
 * @throws RangeError naming the option.
 */
export function checkPutOptions(options: PutOptions): void {
  checkOptionalDuration(options.delayMs, 'delayMs');
  checkOptionalDuration(options.timeoutMs, 'timeoutMs');
}

/**
 * The `prefetch` of a `consume()`: `given`, or `fallback` when left out.
 * @throws TypeError unless it is an integer ≥ 1.
 */
export function resolvePrefetch(given: number | undefined, fallback = DEFAULT_PREFETCH): number {
  const prefetch = given ?? fallback;
  if (!Number.isInteger(prefetch) || prefetch < 1) throw new TypeError('prefetch must be an integer ≥ 1');
  return prefetch;
}

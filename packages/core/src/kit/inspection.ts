import type { Codec } from '../codec.js';
import { UnsupportedError } from '../errors.js';
import type { Capabilities, MoveOptions } from '../types.js';

/** The inspection methods of a `Connection` and the capability each needs. */
const CAPABILITY_OF = { listQueues: 'listQueues', stats: 'stats', peek: 'peek' } as const;

/**
 * Reject an inspection call the transport cannot do, with the same error everywhere: an `UnsupportedError` naming
 * the transport and the capability. A transport whose capability is false answers its method with this.
 */
export function refuseInspection(transport: string, method: keyof typeof CAPABILITY_OF): Promise<never> {
  return Promise.reject(
    new UnsupportedError(
      `the ${transport} transport cannot ${method === 'listQueues' ? 'list queues' : method} (capability "${CAPABILITY_OF[method]}")`,
    ),
  );
}

/** The peek limit, checked: an integer 1–1000, 10 when unset. */
export function resolvePeekLimit(limit: number | undefined): number {
  if (limit === undefined) return 10;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new RangeError(`peek limit must be an integer from 1 to 1000, got ${limit}`);
  }
  return limit;
}

/** {@link MoveOptions}, checked: `limit` is Infinity when unset, `ids` a set. */
export interface ResolvedMoveOptions {
  readonly limit: number;
  readonly ids: ReadonlySet<string> | undefined;
}

/**
 * Check the options of `moveItems`: a `limit` that is not an integer ≥ 0 is a RangeError, `ids` that are not an
 * array of strings a TypeError. The most items a move can take is `Math.min(limit, ids.size)`.
 */
export function resolveMoveOptions(options: MoveOptions = {}): ResolvedMoveOptions {
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  if (options.limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
    throw new RangeError(`moveItems limit must be an integer ≥ 0, got ${options.limit}`);
  }
  const { ids } = options;
  if (ids !== undefined && (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string'))) {
    throw new TypeError('moveItems ids must be an array of item ids (strings)');
  }
  return { limit: ids ? Math.min(limit, ids.length) : limit, ids: ids && new Set(ids) };
}

/**
 * The body a peek shows for an encoded payload: the decoded item, or a copy of the bytes when they cannot be
 * decoded (peek never dead-letters: it takes nothing).
 */
export function peekedBody(codec: Codec, payload: Uint8Array): unknown {
  try {
    return codec.decode(payload);
  } catch {
    return new Uint8Array(payload);
  }
}

/** True when the capabilities allow every inspection call. */
export function inspectable(capabilities: Capabilities): boolean {
  return capabilities.stats && capabilities.peek && capabilities.listQueues;
}

import { UnsupportedError } from '../errors.js';
import type { Capabilities } from '../types.js';

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

/** True when the capabilities allow every inspection call. */
export function inspectable(capabilities: Capabilities): boolean {
  return capabilities.stats && capabilities.peek && capabilities.listQueues;
}

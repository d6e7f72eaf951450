import type { Connection } from '../types.js';
import { broadcastChannelOf } from './names.js';

/**
 * A master's notice, on its task queue's broadcast channel, that it has left: its tasks still
 * queued must not run (nobody would take their results).
 */
export interface DepartureNotice {
  /** The departed master's result queue (the `replyTo` of its tasks). */
  departed: string;
}

/** True when `value` is a {@link DepartureNotice}. */
export function isDepartureNotice(value: unknown): value is DepartureNotice {
  const notice = value as DepartureNotice | null;
  return (
    typeof notice === 'object' && notice !== null && typeof notice.departed === 'string' && !('id' in notice) // never a task envelope
  );
}

/**
 * Tell the workers listening on `taskQueue` that the master answering on `resultQueue` has left,
 * so they drop its tasks unrun. A no-op on transports without `broadcast`.
 */
export async function announceDeparture(
  connection: Connection,
  taskQueue: string,
  resultQueue: string,
): Promise<void> {
  if (!connection.transport.capabilities.broadcast) return;
  const notice: DepartureNotice = { departed: resultQueue };
  await connection.publish(broadcastChannelOf(taskQueue), notice);
}

/**
 * The result queues of masters a worker heard leave, newest kept: bounded, so a worker that runs
 * for months under many short-lived masters does not grow without limit.
 */
export class DepartedMasters {
  private readonly departed = new Set<string>();

  constructor(private readonly limit = 10_000) {}

  /** Remember that the master answering on `resultQueue` has left. */
  add(resultQueue: string): void {
    this.departed.delete(resultQueue);
    this.departed.add(resultQueue);
    if (this.departed.size > this.limit) this.departed.delete(this.departed.values().next().value!);
  }

  /** True when the master answering on `resultQueue` is known to have left. */
  has(resultQueue: string): boolean {
    return this.departed.has(resultQueue);
  }
}

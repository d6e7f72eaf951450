import { type Connection, WorkerDirectory } from '@taskwire/core';

/**
 * Watch the live workers (core's {@link WorkerDirectory}: heartbeats over the transport's broadcast). Rejects with
 * `UnsupportedError` on a transport without broadcast.
 */
export function watchWorkers(connection: Connection): Promise<WorkerDirectory> {
  return WorkerDirectory.watch(connection);
}

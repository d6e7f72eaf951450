import type { Connection } from '@taskwire/core';
import * as core from '@taskwire/core';

/** A live worker as it announces itself over its transport's broadcast (core's `WorkerInfo`). */
export interface WorkerInfo {
  id: string;
  name: string;
  host: string;
  pid: number;
  queue: string;
  concurrency: number;
  transport: string;
  startedAt: number;
  heartbeatAt: number;
  heartbeatMs: number;
  tasksDone: number;
  tasksFailed: number;
  running: { id: string; attempt: number; startedAt: number }[];
  state: 'running' | 'stopping';
}

/** What the admin tools use of core's `WorkerDirectory`. */
export interface WorkerWatch {
  list(): WorkerInfo[];
  on(event: 'change', listener: () => void): unknown;
  close(): Promise<void>;
}

interface DirectoryClass {
  watch(connection: Connection, options?: { staleAfterMs?: number }): Promise<WorkerWatch>;
}

/**
 * Watch the live workers through core's `WorkerDirectory`. Looked up at run time so this package builds against a
 * core without worker presence: there it refuses with one clear line instead.
 */
export async function watchWorkers(connection: Connection): Promise<WorkerWatch> {
  const directory = (core as unknown as { WorkerDirectory?: DirectoryClass }).WorkerDirectory;
  if (!directory) {
    throw new core.UnsupportedError(
      'this @taskwire/core has no worker presence (WorkerDirectory): upgrade it',
    );
  }
  return directory.watch(connection);
}

import { currentLogger } from '@taskwire/cli-kit';
import { UnsupportedError, type WorkerDirectory } from '@taskwire/core';
import type { AdminFlags } from './admin-flags.js';
import { startDashboard } from './dashboard/server.js';
import { requireTokenOffLoopback } from './dashboard/token.js';
import { withSession } from './session.js';
import { watchWorkers } from './workers.js';

/** Options of `taskwire dashboard`. */
export interface DashboardFlags extends AdminFlags {
  host?: string;
  port?: number;
  token?: string;
  interval?: number;
}

/** `taskwire dashboard`: serve the web dashboard until SIGINT or SIGTERM. */
export function dashboard(flags: DashboardFlags): Promise<number> {
  const token = flags.token ?? process.env.TASKWIRE_DASHBOARD_TOKEN;
  // Before connecting: a refused start should not wait for the backend.
  requireTokenOffLoopback(flags.host ?? '127.0.0.1', token);
  return withSession(flags, async ({ connection }) => {
    let workers: WorkerDirectory | undefined;
    try {
      workers = await watchWorkers(connection);
    } catch (error) {
      if (!UnsupportedError.isInstance(error)) throw error;
      currentLogger('taskwire').warn(`no live workers shown: ${(error as Error).message}`);
    }
    const running = await startDashboard({
      connection,
      ...(workers ? { workers } : {}),
      ...(flags.host !== undefined ? { host: flags.host } : {}),
      ...(flags.port !== undefined ? { port: flags.port } : {}),
      ...(token ? { token } : {}),
      ...(flags.interval !== undefined ? { intervalMs: flags.interval * 1000 } : {}),
    }).catch(async (error: Error) => {
      await workers?.close();
      throw error;
    });
    if (flags.json) console.log(JSON.stringify({ url: running.url, port: running.port }));
    else console.log(`taskwire dashboard: ${running.url}`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await running.close();
    // Not awaited: with the backend away, unsubscribing waits for it to come back (up to the transport's reconnect
    // deadline, minutes); closing the connection, next, ends the subscription anyway.
    workers?.close().catch(() => {});
    return 0;
  });
}

import { currentLogger } from '@taskwire/cli-kit';
import type { AdminFlags } from './admin-flags.js';
import { withSession } from './session.js';

/** Options of `taskwire metrics`. */
export interface MetricsCommandFlags extends AdminFlags {
  host?: string;
  port?: number;
  queues?: string[];
}

/**
 * `taskwire metrics`: a transport-wide Prometheus exporter (queue depth by state, live workers, reconnects) until
 * SIGINT or SIGTERM. prom-client is loaded only here.
 */
export function metrics(flags: MetricsCommandFlags): Promise<number> {
  return withSession(flags, async ({ connection }) => {
    const { serveMetrics } = await import('@taskwire/metrics');
    const served = await serveMetrics({
      connection,
      port: flags.port ?? 9464,
      ...(flags.host !== undefined ? { host: flags.host } : {}),
      ...(flags.queues ? { queues: flags.queues } : {}),
    });
    if (flags.json) console.log(JSON.stringify({ url: served.url, port: served.port }));
    else currentLogger('taskwire').info(`metrics on ${served.url}`, { url: served.url });
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await served.close();
    return 0;
  });
}

import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';

let loaded: typeof PromClient | undefined;

/**
 * prom-client, loaded the first time it is needed. Loading it costs a process 30–40 ms of CPU (its index also loads
 * the default metrics, the Pushgateway with http/https/zlib, the summary's t-digest and @opentelemetry/api); a
 * master or worker that records tasks but has not been scraped yet does not need it. Required, not imported: an
 * `import` would load it with this package.
 */
export function promClient(): typeof PromClient {
  loaded ??= createRequire(import.meta.url)('prom-client') as typeof PromClient;
  return loaded;
}

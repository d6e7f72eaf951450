import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** Where {@link startMetricsServer} listens. */
export interface MetricsServerOptions {
  /** TCP port; 0 picks a free one (see `port` of the result). */
  port: number;
  /** Interface to listen on. @default '127.0.0.1' */
  host?: string;
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** The port it listens on (the one picked, for port 0). */
  readonly port: number;
  /** `http://host:port/metrics`. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serve `registry` in the Prometheus text format on `GET /metrics` (anything else is a 404). Loopback by default:
 * counts of tasks and queue names are not for every network. `registry` may be a function that returns it, called at
 * each scrape: what is only needed to answer one (prom-client, for `serveMetrics`) is then loaded at the first.
 */
export async function startMetricsServer(
  registry: Registry | (() => Registry),
  options: MetricsServerOptions,
): Promise<MetricsServer> {
  const registryNow = typeof registry === 'function' ? registry : () => registry;
  const host = options.host ?? '127.0.0.1';
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (request.method !== 'GET' || path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /metrics\n');
      return;
    }
    const failed = (error: Error) =>
      response.writeHead(500, { 'content-type': 'text/plain' }).end(`${error.message}\n`);
    let scraped: Registry;
    try {
      scraped = registryNow();
    } catch (error) {
      failed(error as Error);
      return;
    }
    scraped
      .metrics()
      .then((text) => response.writeHead(200, { 'content-type': scraped.contentType }).end(text), failed);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // A scrape in progress must not keep the process alive once everything else is done.
  server.unref();
  const { port } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    port,
    url: `http://${shown}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

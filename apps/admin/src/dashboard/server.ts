import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import {
  ConfigError,
  type Connection,
  QueueNotFoundError,
  TaskwireError,
  type WorkerDirectory,
} from '@taskwire/core';
import { deadLetterOf } from '../commands.js';
import { viewItem } from '../items.js';
import { type Asset, loadAssets } from './assets.js';
import { Sampler } from './sampler.js';
import { bearerToken, isLoopback, requireTokenOffLoopback, tokenMatches } from './token.js';

/** Options of {@link startDashboard}. */
export interface DashboardOptions {
  connection: Connection;
  /** Live workers (core's `WorkerDirectory`), when available. */
  workers?: WorkerDirectory;
  /** Interface to listen on. @default '127.0.0.1' */
  host?: string;
  /** Port; 0 picks a free one. @default 7733 */
  port?: number;
  /** Required on every API request when set; required to bind a non-loopback address. */
  token?: string;
  /** How often the backend is sampled, ms. @default 2000 */
  intervalMs?: number;
  /** Samples kept per queue for the charts. @default 300 */
  historyLength?: number;
}

/** A running dashboard. */
export interface Dashboard {
  /** The page's address (with `#token=…` when a token is set). */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Items of a dead-letter queue shown at most. */
const DEAD_SHOWN = 100;
/** Largest request body accepted (an action's JSON). */
const MAX_BODY = 64 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Serve the dashboard: the page's static files and a JSON API over `node:http`. Bound to anything but loopback it
 * refuses to start without a token; with a token, every API request must carry it (`Authorization: Bearer`),
 * compared in constant time. Without one, requests must name a loopback host (no DNS rebinding).
 */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const host = options.host ?? '127.0.0.1';
  const token = options.token;
  requireTokenOffLoopback(host, token);
  const assets = await loadAssets();
  const sampler = new Sampler({
    connection: options.connection,
    ...(options.workers ? { workers: options.workers } : {}),
    intervalMs: options.intervalMs ?? 2000,
    historyLength: options.historyLength ?? 300,
  });
  await sampler.start();
  const api = new Api(options.connection, sampler, options.intervalMs ?? 2000);
  const server = createServer((request, response) => {
    handle(request, response, { assets, api, token }).catch((error: Error) => {
      const status =
        error instanceof HttpError ? error.status : QueueNotFoundError.isInstance(error) ? 404 : 500;
      sendJson(response, status, {
        error: error.message.split('\n')[0],
        ...(TaskwireError.isInstance(error) ? { code: error.code } : {}),
      });
    });
  });
  await listen(server, host, options.port ?? 7733);
  const { port } = server.address() as AddressInfo;
  const shownHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}/${token ? `#token=${encodeURIComponent(token)}` : ''}`,
    port,
    close: async () => {
      sampler.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new ConfigError(`the dashboard cannot listen on ${host}:${port}: ${error.code ?? error.message}`),
      ),
    );
    server.listen(port, host, () => resolve());
  });
}

interface Context {
  assets: Map<string, Asset>;
  api: Api;
  token: string | undefined;
}

async function handle(request: IncomingMessage, response: ServerResponse, context: Context): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://dashboard');
  if (!url.pathname.startsWith('/api/'))
    return sendAsset(request, response, context.assets.get(url.pathname));
  if (context.token) {
    if (!tokenMatches(bearerToken(request.headers.authorization), context.token)) {
      throw new HttpError(401, 'a valid token is required (Authorization: Bearer <token>)');
    }
  } else if (!isLoopback(hostnameOf(request.headers.host))) {
    throw new HttpError(403, 'this dashboard answers only to a loopback Host');
  }
  if (request.method === 'GET') return sendJson(response, 200, await context.api.get(url));
  if (request.method !== 'POST') throw new HttpError(405, 'only GET and POST');
  // A JSON content type cannot be sent cross-site without a CORS preflight, which this server never grants.
  if (!/^application\/json\b/i.test(request.headers['content-type'] ?? '')) {
    throw new HttpError(415, 'actions take application/json');
  }
  return sendJson(response, 200, await context.api.post(url, await readJson(request)));
}

function hostnameOf(host: string | undefined): string {
  if (!host) return '';
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  return host.replace(/:\d+$/, '');
}

/** The API behind the page; every read comes from the sampler except the dead letters shown. */
class Api {
  constructor(
    private readonly connection: Connection,
    private readonly sampler: Sampler,
    private readonly intervalMs: number,
  ) {}

  async get(url: URL): Promise<unknown> {
    switch (url.pathname) {
      case '/api/state': {
        const since = Number(url.searchParams.get('since') ?? 0) || 0;
        const history: Record<string, unknown[]> = {};
        for (const [name, samples] of this.sampler.history)
          history[name] = samples.filter((s) => s.t > since);
        return {
          transport: this.connection.transport.name,
          intervalMs: this.intervalMs,
          ...this.sampler.latest(),
          history,
        };
      }
      case '/api/dead': {
        const queue = requiredName(url.searchParams.get('queue'));
        const name = await deadLetterOf(this.connection, queue);
        const items = await this.connection.peek(name, { limit: DEAD_SHOWN });
        return { queue, deadLetter: name, items: items.map(viewItem) };
      }
      default:
        throw new HttpError(404, `no such API: ${url.pathname}`);
    }
  }

  async post(url: URL, body: Record<string, unknown>): Promise<unknown> {
    const queue = requiredName(body.queue);
    const deadLetter = await deadLetterOf(this.connection, queue);
    let outcome: unknown;
    switch (url.pathname) {
      case '/api/dead/requeue': {
        const ids = body.ids;
        if (ids !== undefined && !(Array.isArray(ids) && ids.every((id) => typeof id === 'string'))) {
          throw new HttpError(400, 'ids must be an array of strings');
        }
        const moved = await this.connection.moveItems(deadLetter, queue, ids ? { ids } : {});
        outcome = { queue, deadLetter, moved };
        break;
      }
      case '/api/dead/purge':
        outcome = { queue, deadLetter, removed: await this.connection.purgeQueue(deadLetter) };
        break;
      default:
        throw new HttpError(404, `no such action: ${url.pathname}`);
    }
    await this.sampler.refresh();
    return outcome;
  }
}

function requiredName(value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new HttpError(400, 'a queue name is required');
  return value;
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, 'request body too large');
    chunks.push(chunk);
  }
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    if (typeof value === 'object' && value !== null && !Array.isArray(value))
      return value as Record<string, unknown>;
  } catch {}
  throw new HttpError(400, 'the body must be a JSON object');
}

/** Bodies smaller than this go uncompressed: gzip would save next to nothing. */
const GZIP_FROM_BYTES = 1024;

const acceptsGzip = (request: IncomingMessage) =>
  /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  if (response.headersSent) return void response.end();
  const text = Buffer.from(JSON.stringify(value));
  // The first state of a page carries the charts' whole history: worth compressing.
  const gzip = text.length >= GZIP_FROM_BYTES && acceptsGzip(response.req);
  const body = gzip ? gzipSync(text) : text;
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': body.length,
    ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    vary: 'accept-encoding',
  });
  response.end(body);
}

function sendAsset(request: IncomingMessage, response: ServerResponse, asset: Asset | undefined): void {
  if (!asset || (request.method !== 'GET' && request.method !== 'HEAD')) {
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    return;
  }
  const gzip = acceptsGzip(request);
  const body = gzip ? asset.gzip : asset.body;
  response.writeHead(200, {
    'content-type': asset.type,
    'content-length': body.length,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    vary: 'accept-encoding',
  });
  response.end(request.method === 'HEAD' ? undefined : body);
}

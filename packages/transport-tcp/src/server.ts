import { type AddressInfo, createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import {
  ConfigError,
  type Connection,
  ConnectionClosedError,
  type ConnectOptions,
  createMemoryTransport,
} from '@taskwire/core';
import { type MemoryEngine, memoryEngine, type StoredPayload } from '@taskwire/core/engine';
import { Admission } from './admission.js';
import { type AuthkeySource, resolveAuthkey } from './auth.js';
import { payloadLimit } from './frame-budget.js';
import { formatUrl } from './manager-address.js';
import { DEFAULT_MAX_FRAME_BYTES, DEFAULT_PORT, HANDSHAKE_MAX_FRAME_BYTES } from './protocol.js';
import { Peer } from './server-peer.js';

/** Options of {@link serve}. */
export interface ServeOptions extends AuthkeySource {
  /**
   * Interface to listen on. Use `0.0.0.0` (with TLS, or on a trusted network) for remote workers.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * Port to listen on; 0 picks a free one (read it back from {@link TcpServer.address}).
   * @default 5555
   */
  port?: number;
  /** Serve `tcps://`: Node TLS server options, at least `cert` and `key`. */
  tls?: TlsOptions;
  /**
   * Largest frame either side may send once authenticated (at least 1024); a bigger one closes that connection
   * with `FrameTooLargeError`. Clients learn it in the handshake. The largest payload (a put, a result, a
   * broadcast) is `maxFrameBytes − 256`: a bigger one is refused with `FrameTooLargeError`, by the client before
   * it is sent and by {@link TcpServer.connect}'s in-process connection; batches are split to stay within it.
   * @default 67174400 (64 MiB payload + 64 KiB)
   */
  maxFrameBytes?: number;
  /**
   * Most simultaneous authenticated connections; further ones are closed at once (the client sees a
   * `ConnectionClosedError` and, when reconnecting, tries again later). Connections still in their handshake
   * do not count: they have {@link maxUnauthenticated}.
   * @default 1024
   */
  maxConnections?: number;
  /**
   * Most connections still in their handshake (TLS and authkey) at once. When full, the oldest of them is
   * closed to make room for a newcomer: silent sockets held open cannot lock out a client with the key.
   * @default 512
   */
  maxUnauthenticated?: number;
  /**
   * Most connections still in their handshake from one remote address; a newcomer beyond it closes that
   * address's oldest handshake. Keep it above the number of workers one host starts at once.
   * @default 128
   */
  maxUnauthenticatedPerAddress?: number;
  /**
   * A connection that has not authenticated within this many ms is closed.
   * @default 5000
   */
  handshakeTimeoutMs?: number;
  /**
   * Bound on output waiting unsent to one client (the socket's `writableLength`, plus what the current turn has
   * queued for it). Past it the client gets no new deliveries (they stay in the queue for other consumers), misses broadcasts, and is no longer read
   * from, until everything has been sent.
   * @default 16777216 (16 MiB)
   */
  maxOutputBytes?: number;
  /**
   * A client whose output went over {@link maxOutputBytes} and has not drained within this many ms is dropped;
   * its unacked deliveries go back to their queues at once. At the defaults, a client that cannot take 16 MiB
   * in 30 s (about 0.5 MB/s) is treated as stalled.
   * @default 30000
   */
  stalledTimeoutMs?: number;
  /**
   * Largest prefetch window a remote consumer gets; a bigger `prefetch` is lowered to it.
   * @default 10000
   */
  maxPrefetch?: number;
  /**
   * Told about every connection closed for the client's fault (a protocol or authentication failure, a stalled
   * output) or to keep within the connection budgets (for logs).
   */
  onClientError?: (error: Error, remoteAddress: string) => void;
}

/** A running TCP manager (see {@link serve}). */
export interface TcpServer {
  /** Where it listens. */
  readonly address: { readonly host: string; readonly port: number };
  /** `tcp://host:port` (or `tcps://`) for workers' `connect({ url })`. */
  readonly url: string;
  /** The queues it hosts. */
  readonly engine: MemoryEngine<StoredPayload>;
  /** Connections currently open (authenticated or not). */
  readonly connectionCount: number;
  /** Connections currently in their handshake (counted from the TCP accept, TLS included). */
  readonly unauthenticatedCount: number;
  /**
   * An in-process connection to the hosted queues, for the master that embeds the server: no
   * socket, no authkey, same queues as remote workers see.
   */
  connect(options?: ConnectOptions): Promise<Connection>;
  /** Stop listening, drop every connection (their unacked deliveries are requeued), free the queues. */
  close(): Promise<void>;
}

let serverCounter = 0;

/** Default {@link ServeOptions.maxOutputBytes}. */
const DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

/** Default {@link ServeOptions.maxPrefetch}. */
const DEFAULT_MAX_PREFETCH = 10_000;

function positive(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new ConfigError(`${what} must be an integer ≥ 1, got ${value}`);
  return value;
}

/**
 * Start a TCP manager: host queues in this process and let workers connect with the shared
 * authkey, like Python's `BaseManager`. Resolves once listening.
 *
 * @throws ConfigError without an authkey; rejects with the listen error (e.g. `EADDRINUSE`).
 */
export async function serve(options: ServeOptions = {}): Promise<TcpServer> {
  const key = resolveAuthkey(options);
  const host = options.host ?? '127.0.0.1';
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  if (!Number.isSafeInteger(maxFrameBytes) || maxFrameBytes < HANDSHAKE_MAX_FRAME_BYTES) {
    throw new ConfigError(
      `maxFrameBytes must be an integer ≥ ${HANDSHAKE_MAX_FRAME_BYTES}, got ${maxFrameBytes}`,
    );
  }
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? 5000;
  // A named memory engine, so the embedding master can reach it through memory:// in process.
  const engineName = `tcp-server-${process.pid}-${++serverCounter}`;
  const engine = memoryEngine(engineName);
  const peers = new Set<Peer>();
  const admission = new Admission(
    {
      maxConnections: positive(options.maxConnections ?? 1024, 'maxConnections'),
      maxUnauthenticated: positive(options.maxUnauthenticated ?? 512, 'maxUnauthenticated'),
      maxUnauthenticatedPerAddress: positive(
        options.maxUnauthenticatedPerAddress ?? 128,
        'maxUnauthenticatedPerAddress',
      ),
    },
    (why, remote) => options.onClientError?.(new ConnectionClosedError(why), remote),
  );
  const context = {
    engine,
    key,
    maxFrameBytes,
    handshakeTimeoutMs,
    output: {
      maxOutputBytes: positive(options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES, 'maxOutputBytes'),
      stalledTimeoutMs: positive(options.stalledTimeoutMs ?? 30_000, 'stalledTimeoutMs'),
    },
    maxPrefetch: positive(options.maxPrefetch ?? DEFAULT_MAX_PREFETCH, 'maxPrefetch'),
    peers,
    admission,
    onClientError: options.onClientError,
  };
  const accept = (socket: Socket) => {
    if (!socket.destroyed) peers.add(new Peer(context, socket));
  };
  // Every TCP connection enters the budget at its accept, before any TLS handshake.
  const server: Server = options.tls
    ? createTlsServer({ handshakeTimeout: handshakeTimeoutMs, ...options.tls }, accept)
    : createNetServer();
  server.on('connection', (socket: Socket) => admission.admit(socket));
  if (!options.tls) server.on('connection', accept);
  if (options.tls) {
    server.on('tlsClientError', (error: Error, socket: Socket) => {
      options.onClientError?.(error, `${socket.remoteAddress}:${socket.remotePort}`);
    });
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEFAULT_PORT, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const address = { host, port: bound.port };
  const memory = createMemoryTransport();
  let closing: Promise<void> | undefined;
  return {
    address,
    url: formatUrl(options.tls ? 'tcps' : 'tcp', host, bound.port),
    engine,
    get connectionCount() {
      return peers.size;
    },
    get unauthenticatedCount() {
      return admission.unauthenticated;
    },
    // In process too, nothing is stored that could not be delivered to a remote worker in one frame.
    connect: (connectOptions) =>
      memory.connect({
        ...connectOptions,
        url: `memory://${engineName}`,
        maxPayloadBytes: Math.min(
          connectOptions?.maxPayloadBytes ?? Number.POSITIVE_INFINITY,
          payloadLimit(maxFrameBytes),
        ),
      }),
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const peer of peers) peer.destroy();
      }).then(() => {
        for (const name of engine.queueNames()) engine.deleteQueue(name);
        engine.dispose();
      });
      return closing;
    },
  };
}

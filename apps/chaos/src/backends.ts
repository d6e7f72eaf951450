import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freePort,
  type PrivateBroker,
  type PrivateRedis,
  startPrivateBroker,
  startPrivateRedis,
} from '@taskwire/test-brokers';
import { SQLITE_TRANSPORT_PATH } from './commands.js';

/** The transports `pnpm chaos` knows. */
export const TRANSPORTS = ['tcp', 'redis', 'rabbitmq', 'sqlite'] as const;
export type TransportName = (typeof TRANSPORTS)[number];

/** A backend that can be taken down for a while and brought back (a broker restart). */
export interface Restartable {
  /** What goes down, for the table's notes. */
  readonly what: string;
  down(): Promise<void>;
  up(): Promise<void>;
}

/** How one job (one cell of the table) reaches its transport. */
export interface CellBackend {
  /** `taskwire-master` flags: transport, URL and what else serving or connecting needs. */
  readonly masterArgs: string[];
  /** `--transport` of the workers. */
  readonly workerTransport: string;
  /** The workers' URL; `port` replaces the backend's port (a fault proxy in front of it). */
  workerUrl(port?: number): string;
  /** The backend's loopback port, for a fault proxy in front of it (none: nothing to cut). */
  readonly linkPort?: number;
  /** Environment of master and workers (the TCP authkey). */
  readonly env: Record<string, string>;
  /** The TCP manager's port and key, for the fuzzer. */
  readonly manager?: { port: number; authkey: string };
  readonly restart?: Restartable;
  /** The broker stopped by its operator (connections closed with a reason), node left up. */
  readonly operatorStop?: Restartable;
  /** Remove what the cell left (its SQLite file). */
  close(): void;
}

/** One transport for a whole run: its private broker (if any), shared by the run's cells. */
export interface Backend {
  readonly name: TransportName;
  cell(id: string): Promise<CellBackend>;
  close(): Promise<void>;
}

/** The TCP manager embedded in `taskwire-master`: a fresh port and key per cell. */
function tcpBackend(): Backend {
  return {
    name: 'tcp',
    cell: async () => {
      const port = await freePort();
      const authkey = randomBytes(18).toString('base64url');
      return {
        masterArgs: ['--transport', 'tcp', '--port', String(port)],
        workerTransport: 'tcp',
        workerUrl: (via = port) => `tcp://127.0.0.1:${via}`,
        linkPort: port,
        env: { TASKWIRE_AUTHKEY: authkey },
        manager: { port, authkey },
        close: () => undefined,
      };
    },
    close: async () => undefined,
  };
}

// Leases short enough that a SIGKILLed or stalled worker's tasks come back within a fault's recovery
// window (Redis's default 30 s, SQLite's 10 s, would dominate every cell), and shorter than a stall.
const LEASE_MS = 3000;

/** A private redis-server with an fsynced append-only file, so a restart keeps what it acknowledged. */
async function redisBackend(): Promise<Backend> {
  const redis: PrivateRedis = await startPrivateRedis({ persistent: true });
  return {
    name: 'redis',
    cell: async (id) => {
      const url = (port: number) => `redis://127.0.0.1:${port}?prefix=chaos-${id}&leaseTtlMs=${LEASE_MS}`;
      return {
        masterArgs: ['--transport', 'redis', '--url', url(redis.port)],
        workerTransport: 'redis',
        workerUrl: (port = redis.port) => url(port),
        linkPort: redis.port,
        env: {},
        restart: { what: 'redis-server SIGKILLed', down: redis.kill, up: redis.start },
        close: () => undefined,
      };
    },
    close: () => redis.stop(),
  };
}

/** A private RabbitMQ node (its own name, ports and data directory). */
async function rabbitmqBackend(): Promise<Backend> {
  const broker: PrivateBroker = await startPrivateBroker();
  return {
    name: 'rabbitmq',
    cell: async () => {
      const url = (port: number) => `amqp://guest:guest@127.0.0.1:${port}`;
      return {
        masterArgs: ['--transport', 'rabbitmq', '--url', url(broker.port)],
        workerTransport: 'rabbitmq',
        workerUrl: (port = broker.port) => url(port),
        linkPort: broker.port,
        env: {},
        restart: { what: 'RabbitMQ node SIGKILLed', down: broker.kill, up: broker.start },
        operatorStop: { what: 'rabbitmqctl stop_app / start_app', down: broker.stopApp, up: broker.startApp },
        close: () => undefined,
      };
    },
    close: () => broker.stop(),
  };
}

/** The SQLite example transport: one database file per cell, no socket, no server. */
function sqliteBackend(): Backend {
  const dir = mkdtempSync(join(tmpdir(), 'taskwire-chaos-sqlite-'));
  return {
    name: 'sqlite',
    cell: async (id) => {
      const file = join(dir, `${id}.db`);
      const url = `sqlite://${file}?leaseMs=${LEASE_MS}`;
      return {
        masterArgs: ['--transport', SQLITE_TRANSPORT_PATH, '--url', url],
        workerTransport: SQLITE_TRANSPORT_PATH,
        workerUrl: () => url,
        env: {},
        close: () => {
          for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
        },
      };
    },
    close: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Start the backend of `name` (a private broker for redis and rabbitmq). */
export function startBackend(name: TransportName): Promise<Backend> {
  switch (name) {
    case 'tcp':
      return Promise.resolve(tcpBackend());
    case 'redis':
      return redisBackend();
    case 'rabbitmq':
      return rabbitmqBackend();
    case 'sqlite':
      return Promise.resolve(sqliteBackend());
  }
}

import {
  type Capabilities,
  ConfigError,
  type ConnectOptions,
  createCodec,
  type Transport,
} from '@taskwire/core';
import { SqliteConnection } from './connection.js';

/** Options of {@link createSqliteTransport}; `connect()` takes them too. */
export interface SqliteTransportOptions {
  /**
   * How long an item held by a connection that stopped (a crashed process) stays held before it is served
   * again, on queues without a visibility timeout. Live connections renew it every third of it. @default 10000
   */
  leaseMs?: number;
  /** How often an idle taker looks for items another process put. @default 25 */
  pollMs?: number;
}

/** Everything but broadcast: SQLite has no way to reach the other processes' subscribers at once. */
export const SQLITE_CAPABILITIES: Capabilities = Object.freeze({
  lifo: true,
  priority: true,
  maxsize: true,
  delayed: true,
  persistent: true,
  deadLetter: true,
  broadcast: false,
  stats: true,
  peek: true,
  listQueues: true,
});

/**
 * Read `sqlite://<path>[?leaseMs=…&pollMs=…]`: `sqlite:///tmp/q.db` is absolute, `sqlite://q.db` relative to the
 * working directory.
 */
export function parseSqliteUrl(url = 'sqlite://taskwire.db'): { file: string } & SqliteTransportOptions {
  const match = /^sqlite:\/\/([^?]+)(?:\?(.*))?$/.exec(url);
  if (!match)
    throw new ConfigError(`invalid sqlite URL "${url}": expected sqlite://<path of the database file>`);
  const parsed: { file: string } & SqliteTransportOptions = { file: match[1]! };
  for (const [key, value] of new URLSearchParams(match[2] ?? '')) {
    const ms = Number(value);
    if ((key !== 'leaseMs' && key !== 'pollMs') || !(ms >= 1 && ms <= 3_600_000)) {
      throw new ConfigError(
        `invalid sqlite URL parameter ${key}=${value}: expected leaseMs or pollMs, 1 to 3600000`,
      );
    }
    parsed[key] = ms;
  }
  return parsed;
}

/** `sqlite://<path>`: queues in one SQLite file, shared by the processes of one machine. */
export function createSqliteTransport(defaults: SqliteTransportOptions = {}): Transport {
  const transport: Transport = {
    name: 'sqlite',
    schemes: ['sqlite'],
    capabilities: SQLITE_CAPABILITIES,
    async connect(options: ConnectOptions & SqliteTransportOptions = {}) {
      const url = parseSqliteUrl(options.url);
      return new SqliteConnection(transport, {
        file: url.file,
        leaseMs: options.leaseMs ?? url.leaseMs ?? defaults.leaseMs ?? 10_000,
        pollMs: options.pollMs ?? url.pollMs ?? defaults.pollMs ?? 25,
        codec: createCodec({ maxPayloadBytes: options.maxPayloadBytes }),
      });
    },
  };
  return transport;
}

export default createSqliteTransport;

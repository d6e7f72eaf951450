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
});

/** The database file of `sqlite://<path>`: `sqlite:///tmp/q.db` is absolute, `sqlite://q.db` relative. */
export function fileOf(url = 'sqlite://taskwire.db'): string {
  const match = /^sqlite:\/\/(.+)$/.exec(url);
  if (!match)
    throw new ConfigError(`invalid sqlite URL "${url}": expected sqlite://<path of the database file>`);
  return match[1]!;
}

/** `sqlite://<path>`: queues in one SQLite file, shared by the processes of one machine. */
export function createSqliteTransport(defaults: SqliteTransportOptions = {}): Transport {
  const transport: Transport = {
    name: 'sqlite',
    schemes: ['sqlite'],
    capabilities: SQLITE_CAPABILITIES,
    async connect(options: ConnectOptions & SqliteTransportOptions = {}) {
      return new SqliteConnection(transport, {
        file: fileOf(options.url),
        leaseMs: options.leaseMs ?? defaults.leaseMs ?? 10_000,
        pollMs: options.pollMs ?? defaults.pollMs ?? 25,
        codec: createCodec({ maxPayloadBytes: options.maxPayloadBytes }),
      });
    },
  };
  return transport;
}

export default createSqliteTransport;

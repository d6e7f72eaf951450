import type { Capabilities, Connection, ConnectOptions, Transport } from '@taskwire/core';
import { ConnectionClosedError } from '@taskwire/core';
import { wrapBackendError } from '@taskwire/core/transport';
import pg from 'pg';
import { PostgresConnection } from './connection.js';
import { migrate } from './migrations.js';
import { type PostgresConnectOptions, resolveSettings } from './options.js';

/** Everything: PostgreSQL does every option of the contract in SQL, and is durable. */
export const POSTGRES_CAPABILITIES: Capabilities = Object.freeze({
  lifo: true,
  priority: true,
  maxsize: true,
  delayed: true,
  persistent: true,
  deadLetter: true,
  broadcast: true,
  stats: true,
  peek: true,
  listQueues: true,
});

/** The `postgres://` / `postgresql://` transport. Options given here are defaults of every `connect()`. */
export class PostgresTransport implements Transport {
  readonly name = 'postgres';
  readonly schemes = ['postgres', 'postgresql'] as const;
  readonly capabilities = POSTGRES_CAPABILITIES;
  /**
   * Each held delivery is a leased row that a dead worker strands until its lease passes: a window of 64 rows (one
   * take's worth) keeps a worker busy without hoarding.
   */
  readonly recommendedPrefetch = 64;

  constructor(private readonly defaults: PostgresConnectOptions = {}) {}

  /** Open a connection (migrating the schema first unless `migrate: false`); see {@link PostgresConnectOptions}. */
  connect(options: ConnectOptions & PostgresConnectOptions = {}): Promise<Connection & PostgresConnection> {
    return PostgresConnection.open(this, resolveSettings({ ...this.defaults, ...options }));
  }

  /**
   * Bring the schema (`schema` option, `taskwire` by default) to this version, under an advisory lock, and resolve
   * with the versions applied: `taskwire migrate` calls it for teams that apply migrations themselves.
   */
  async migrate(options: ConnectOptions & PostgresConnectOptions = {}): Promise<string[]> {
    const settings = resolveSettings({ ...this.defaults, ...options });
    const client = new pg.Client({
      connectionString: settings.connectionString,
      connectionTimeoutMillis: settings.connectTimeoutMs,
    });
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw new ConnectionClosedError(
        `cannot connect to PostgreSQL at ${settings.display}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    try {
      return await migrate(client, settings.schema);
    } catch (error) {
      throw wrapBackendError(error, `postgres: migrating schema "${settings.schema}"`);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

/** Create the PostgreSQL transport, optionally with default connect options. */
export function createPostgresTransport(options?: PostgresConnectOptions): PostgresTransport {
  return new PostgresTransport(options);
}

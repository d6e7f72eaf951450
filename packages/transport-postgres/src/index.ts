/**
 * `@taskwire/transport-postgres`: taskwire queues in PostgreSQL tables (`postgres://`, `postgresql://`).
 *
 * @packageDocumentation
 */
export { PostgresConnection } from './connection.js';
export { MIGRATION_VERSIONS } from './migrations.js';
export { DEFAULT_POSTGRES_URL, type PostgresConnectOptions } from './options.js';
export {
  createPostgresTransport,
  createPostgresTransport as default,
  POSTGRES_CAPABILITIES,
  PostgresTransport,
} from './transport.js';

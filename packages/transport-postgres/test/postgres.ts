import { randomBytes } from 'node:crypto';
import type { Connection } from '@taskwire/core';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { createPostgresTransport } from '../src/index.js';

/** The server the tests use: the shared one, database `test`. */
export const POSTGRES_URL = process.env.TASKWIRE_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A schema no other run uses. */
export function uniqueSchema(label: string): string {
  return `tw_test_${label}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

/** A plain client for checking the server directly. Throws (fails the suite) when it is down. */
export async function adminClient(url = POSTGRES_URL): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect().catch((error: Error) => {
    throw new Error(`PostgreSQL is not reachable at ${url} (${error.message}); start it before the tests`);
  });
  return client;
}

/** Drop `schema` and everything in it. */
export async function dropSchema(client: pg.Client, schema: string): Promise<void> {
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

/** Kill every session of `connection` (its pool's and its LISTEN one) with `pg_terminate_backend`. */
export async function terminateSessions(client: pg.Client, connection: Connection): Promise<number> {
  const { applicationName } = connection as Connection & { applicationName: string };
  const result = await client.query(
    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
    [applicationName],
  );
  return result.rowCount ?? 0;
}

/** A schema of the suite's own, with an admin client and a transport connection to it. */
export interface SchemaFixture {
  readonly schema: string;
  /** Set before the suite's tests run. */
  admin: pg.Client;
  /** Set before the suite's tests run. */
  connection: Connection;
}

/**
 * Register hooks that open an admin client and a connection to a fresh schema before the suite, and close both and
 * drop the schema after it.
 */
export function useSchema(label: string): SchemaFixture {
  const fixture = { schema: uniqueSchema(label) } as SchemaFixture;
  beforeAll(async () => {
    fixture.admin = await adminClient();
    fixture.connection = await createPostgresTransport().connect({
      url: POSTGRES_URL,
      schema: fixture.schema,
    });
  });
  afterAll(async () => {
    await fixture.connection?.close();
    if (fixture.admin) {
      await dropSchema(fixture.admin, fixture.schema);
      await fixture.admin.end();
    }
  });
  return fixture;
}

export { type PrivatePostgres, startPrivatePostgres } from '@taskwire/test-brokers';

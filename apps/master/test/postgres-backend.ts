import { randomBytes } from 'node:crypto';
import { dropPostgresSchema } from '@taskwire/test-brokers';
import { type Backend, brokerBackend } from './backends.js';

export const POSTGRES_URL = process.env.TASKWIRE_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * PostgreSQL, in a schema of the run's own (dropped afterwards), with a short lease: a SIGKILLed worker's tasks
 * come back after 2 s instead of the default 30 s.
 */
export async function postgresBackend(): Promise<Backend> {
  const schema = `tw_e2e_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  return brokerBackend('postgres', `${POSTGRES_URL}?schema=${schema}&leaseMs=2000`, () =>
    dropPostgresSchema(POSTGRES_URL, schema),
  );
}

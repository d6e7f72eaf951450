import { runConformanceSuite } from '@taskwire/conformance';
import type pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { createPostgresTransport } from '../src/index.js';
import {
  adminClient,
  dropSchema,
  POSTGRES_URL,
  type PrivatePostgres,
  startPrivatePostgres,
  terminateSessions,
  uniqueSchema,
} from './postgres.js';

const transport = createPostgresTransport();
const schema = uniqueSchema('conformance');
let admin: pg.Client;
// The persistence case restarts a server of its own.
let restartable: PrivatePostgres;

// Fault cases: short leases, so what a killed session's connection held returns quickly.
const FAULT_OPTIONS = { schema, leaseMs: 1500 };

beforeAll(async () => {
  admin = await adminClient();
  restartable = await startPrivatePostgres();
}, 60_000);
afterAll(async () => {
  await restartable?.stop();
  await dropSchema(admin, schema);
  await admin.end();
}, 60_000);

runConformanceSuite({
  name: 'postgres',
  connect: (o) => transport.connect({ url: POSTGRES_URL, schema, ...o }),
  capabilities: transport.capabilities,
  // A connect opens two sessions (the pool's first and the LISTEN one), each a server process: on a loaded machine
  // that takes over 150 ms, which the default 600 ms visibility timeout's cases leave no room for.
  timing: { visibilityTimeoutMs: 1500 },
  cleanup: async (names) => {
    const ids = `(SELECT id FROM "${schema}".queues WHERE name = ANY($1))`;
    await admin.query(`DELETE FROM "${schema}".chunks WHERE queue_id IN ${ids}`, [names]);
    await admin.query(`DELETE FROM "${schema}".leases WHERE queue_id IN ${ids}`, [names]);
    await admin.query(`DELETE FROM "${schema}".queues WHERE name = ANY($1)`, [names]);
  },
  // A ready item whose payload is the given bytes, inserted behind the transport's back.
  rawPut: async (queue, bytes) => {
    await admin.query(
      `INSERT INTO "${schema}".chunks (queue_id, payloads) SELECT id, ARRAY[$2::bytea] FROM "${schema}".queues WHERE name = $1`,
      [queue, Buffer.from(bytes)],
    );
  },
  faults: {
    connect: (options) => transport.connect({ url: POSTGRES_URL, ...FAULT_OPTIONS, ...options }),
    breakConnection: async (connection) => {
      await terminateSessions(admin, connection);
    },
    reconnects: true,
    // leaseMs, plus a heartbeat period (a third of it), plus the LISTEN session's reconnect.
    recoveryMs: 3000,
    restartBackend: () => restartable.restart(),
    connectRestartable: (options) =>
      transport.connect({ url: restartable.url, ...FAULT_OPTIONS, ...options }),
  },
});

import { BackendError } from '@taskwire/core';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresTransport, MIGRATION_VERSIONS } from '../src/index.js';
import { migrate } from '../src/migrations.js';
import { adminClient, dropSchema, POSTGRES_URL, uniqueSchema } from './postgres.js';

const transport = createPostgresTransport();
const schemas: string[] = [];
let admin: pg.Client;

const fresh = (label: string) => {
  const schema = uniqueSchema(label);
  schemas.push(schema);
  return schema;
};

beforeAll(async () => {
  admin = await adminClient();
});
afterAll(async () => {
  for (const schema of schemas) await dropSchema(admin, schema);
  await admin.end();
});

describe('postgres migrations', () => {
  it('migrate() applies every version once, then nothing', async () => {
    const schema = fresh('migrate');
    expect(await transport.migrate({ url: POSTGRES_URL, schema })).toEqual(MIGRATION_VERSIONS);
    expect(await transport.migrate({ url: POSTGRES_URL, schema })).toEqual([]);
    const { rows } = await admin.query(`SELECT version FROM "${schema}".migrations ORDER BY version`);
    expect(rows.map((row) => row.version)).toEqual(MIGRATION_VERSIONS);
  });

  it('concurrent connects to an empty schema wait for each other instead of racing to create it', async () => {
    const schema = fresh('race');
    const connections = await Promise.all(
      Array.from({ length: 6 }, () => transport.connect({ url: POSTGRES_URL, schema })),
    );
    try {
      const queues = await Promise.all(connections.map((connection, i) => connection.queue<number>(`q${i}`)));
      await queues[0]!.put(1);
      expect(await queues[0]!.size()).toBe(1);
    } finally {
      await Promise.all(connections.map((connection) => connection.close()));
    }
    const { rows } = await admin.query(`SELECT count(*)::int AS n FROM "${schema}".migrations`);
    expect(rows[0].n).toBe(MIGRATION_VERSIONS.length);
  });

  it('concurrent declares of one new queue all open it (none reads an empty row set and crashes)', async () => {
    const schema = fresh('declares');
    const connections = await Promise.all(
      Array.from({ length: 6 }, () => transport.connect({ url: POSTGRES_URL, schema })),
    );
    try {
      // Each round a new queue, declared by every connection at once: the way a master and its workers start.
      for (let round = 0; round < 15; round++) {
        const queues = await Promise.all(
          connections.map((connection) => connection.queue<number>(`jobs-${round}`)),
        );
        await queues[0]!.put(round);
        expect(await queues[5]!.size()).toBe(1);
      }
    } finally {
      await Promise.all(connections.map((connection) => connection.close()));
    }
  });

  it('upgrading a schema that holds items keeps them, and new items get ids of their own', async () => {
    const schema = fresh('upgrade');
    await migrate(admin, schema, '0001-items');
    // Items stored under version 0001: their ids drawn from the identity column, which later versions no longer
    // use, and (as an operator inserting rows could) places in line not drawn from the sequence.
    await admin.query(
      `INSERT INTO "${schema}".items (queue, seq, ready_at, payload) VALUES ('jobs', 0, now(), '\\xa36f6c64'), ('jobs', 1, now(), '\\xa46f6c6432')`,
    );
    const connection = await transport.connect({ url: POSTGRES_URL, schema });
    try {
      const queue = await connection.queue<string>('jobs');
      await queue.putMany(['new', 'new2']);
      const bodies: string[] = [];
      for (let i = 0; i < 4; i++) {
        const delivery = await queue.get({ timeoutMs: 1000 });
        bodies.push(delivery.body);
        await delivery.ack();
      }
      expect(bodies).toEqual(['old', 'old2', 'new', 'new2']);
    } finally {
      await connection.close();
    }
  });

  it('with migrate: false, a connect leaves the schema alone: until `migrate` runs, declaring fails', async () => {
    const schema = fresh('manual');
    const connection = await transport.connect({ url: `${POSTGRES_URL}?schema=${schema}&migrate=false` });
    try {
      await expect(connection.queue('jobs')).rejects.toSatisfy(BackendError.isInstance);
      await transport.migrate({ url: POSTGRES_URL, schema });
      const queue = await connection.queue<string>('jobs');
      await queue.put('after migrate');
      expect(await queue.size()).toBe(1);
    } finally {
      await connection.close();
    }
  });
});

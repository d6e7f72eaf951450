import { BackendError } from '@taskwire/core';
import { resolveQueueOptions } from '@taskwire/core/transport';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresTransport, MIGRATION_VERSIONS } from '../src/index.js';
import { migrate } from '../src/migrations.js';
import { adminClient, dropSchema, POSTGRES_URL, uniqueSchema } from './postgres.js';

const transport = createPostgresTransport();
const schemas: string[] = [];
let admin: pg.Client;

/** `text` (at most 31 ASCII characters) as msgpack: what the default codec stores for a string body. */
const msgpackString = (text: string) => Buffer.concat([Buffer.from([0xa0 | text.length]), Buffer.from(text)]);

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

  it('upgrading a 0002 schema to leases per take keeps waiting order (LIFO too), ids, attempts and held items', async () => {
    const schema = fresh('leases');
    await migrate(admin, schema, '0002-fewer-round-trips');
    const s = `"${schema}"`;
    for (const [name, order] of [
      ['fifo', 'fifo'],
      ['lifo', 'lifo'],
      ['held', 'fifo'],
    ] as const) {
      await admin.query(`INSERT INTO ${s}.queues (name, options) VALUES ($1, $2)`, [
        name,
        JSON.stringify(resolveQueueOptions({ order })),
      ]);
    }
    const put = (queue: string, body: string) =>
      admin.query(`SELECT ${s}.put($1, ARRAY[$2::bytea], 0::smallint, 0, 0)`, [queue, msgpackString(body)]);
    const take = async (queue: string, leaseMs: number, lifo: boolean) => {
      const { rows } = await admin.query<{ id: string; token: string }>(
        `SELECT id, token FROM ${s}.take($1, 'gone', 1, $2, false, $3, false, true)`,
        [queue, leaseMs, lifo],
      );
      return rows[0]!;
    };
    // fifo: a taken by a holder that is gone (its lease lapsed), b and c waiting.
    for (const body of ['a', 'b', 'c']) await put('fifo', body);
    const a = await take('fifo', 1, false);
    // lifo: y taken and given back (to the bottom), then z put on top: served z, x, y.
    await put('lifo', 'x');
    await put('lifo', 'y');
    const y = await take('lifo', 60_000, true);
    await admin.query(`SELECT ${s}.release(ARRAY[$1::bigint], ARRAY[$2::bigint], '{0}', '{1}', true)`, [
      y.id,
      y.token,
    ]);
    await put('lifo', 'z');
    // held: d held by a live lease, which the upgrade keeps.
    await put('held', 'd');
    await take('held', 60_000, false);

    const connection = await transport.connect({ url: POSTGRES_URL, schema });
    try {
      const fifo = await connection.queue<string>('fifo');
      const served: [string, number][] = [];
      for (let i = 0; i < 3; i++) {
        const delivery = await fifo.get({ timeoutMs: 1000 });
        served.push([delivery.body, delivery.attempt]);
        if (delivery.body === 'a') expect(delivery.id).toBe(a.id);
        await delivery.ack();
      }
      expect(served).toEqual([
        ['b', 1],
        ['c', 1],
        ['a', 2],
      ]);
      const lifo = await connection.queue<string>('lifo', { order: 'lifo' });
      const bodies: string[] = [];
      for (let i = 0; i < 3; i++) {
        const delivery = await lifo.get({ timeoutMs: 1000 });
        bodies.push(delivery.body);
        if (delivery.body === 'y') expect([delivery.id, delivery.attempt]).toEqual([y.id, 1]);
        await delivery.ack();
      }
      expect(bodies).toEqual(['z', 'x', 'y']);
      expect(await connection.stats('held')).toMatchObject({ ready: 0, inFlight: 1 });
      const { rows } = await admin.query(`SELECT count(*)::int AS n FROM ${s}.leases`);
      expect(rows[0].n).toBe(1);
    } finally {
      await connection.close();
    }
  });

  it('upgrading a 0003 schema to one-row takes keeps waiting and held items; a large take answers a row per item', async () => {
    const schema = fresh('onerow');
    await migrate(admin, schema, '0003-lease-per-take');
    const s = `"${schema}"`;
    const declare = async (name: string) => {
      const { rows } = await admin.query<{ id: number }>(
        `INSERT INTO ${s}.queues (name, options) VALUES ($1, $2) RETURNING id`,
        [name, JSON.stringify(resolveQueueOptions())],
      );
      return rows[0]!.id;
    };
    const put = (queueId: number, body: string) =>
      admin.query(`SELECT ${s}.put($1, 'unheard', ARRAY[$2::bytea], 0::smallint, 0, 0, false)`, [
        queueId,
        msgpackString(body),
      ]);
    // Under 0003: a taken by a holder that is gone (its lease lapsed), b and c waiting.
    const jobs = await declare('jobs');
    for (const body of ['a', 'b', 'c']) await put(jobs, body);
    const { rows: held } = await admin.query<{ id: string }>(
      `SELECT id FROM ${s}.take($1, 'unheard', 'gone', 1, 1, false, false, true)`,
      [jobs],
    );

    expect(await migrate(admin, schema, '0004-take-as-one-row')).toEqual(['0004-take-as-one-row']);

    // One row per take while the payloads fit reply_bytes; past it, a row per item, in serving order.
    const take = async (queueId: number, n: number, replyBytes: number) => {
      const { rows } = await admin.query<{ ids: string[]; lengths: number[]; payloads: Buffer }>(
        `SELECT ids, lengths, payloads FROM ${s}.take($1, 'unheard', 'me', $2, 60000, false, false, true, $3)`,
        [queueId, n, replyBytes],
      );
      return rows.map((row) => ({ n: row.ids.length, lengths: row.lengths, payloads: row.payloads }));
    };
    const big = await declare('big');
    for (const body of ['x', 'yy', 'z']) await put(big, body);
    expect(await take(big, 2, 1)).toEqual([
      { n: 1, lengths: [2], payloads: msgpackString('x') },
      { n: 1, lengths: [3], payloads: msgpackString('yy') },
    ]);
    expect(await take(big, 2, 1024)).toEqual([{ n: 1, lengths: [2], payloads: msgpackString('z') }]);
    expect(await take(big, 2, 1024)).toEqual([]);

    const connection = await transport.connect({ url: POSTGRES_URL, schema });
    try {
      const queue = await connection.queue<string>('jobs');
      const served: [string, number][] = [];
      for (let i = 0; i < 3; i++) {
        const delivery = await queue.get({ timeoutMs: 1000 });
        served.push([delivery.body, delivery.attempt]);
        if (delivery.body === 'a') expect(delivery.id).toBe(held[0]!.id);
        await delivery.ack();
      }
      expect(served).toEqual([
        ['b', 1],
        ['c', 1],
        ['a', 2],
      ]);
      expect(await connection.stats('big')).toMatchObject({ ready: 0, inFlight: 3 });
    } finally {
      await connection.close();
    }
  });

  it('upgrading a 0004 schema to chunks keeps waiting order (LIFO, priority, delayed), ids, attempts and held items', async () => {
    const schema = fresh('chunks');
    await migrate(admin, schema, '0004-take-as-one-row');
    const s = `"${schema}"`;
    const declare = async (name: string, options: Parameters<typeof resolveQueueOptions>[0]) => {
      const { rows } = await admin.query<{ id: number }>(
        `INSERT INTO ${s}.queues (name, options) VALUES ($1, $2) RETURNING id`,
        [name, JSON.stringify(resolveQueueOptions(options))],
      );
      return rows[0]!.id;
    };
    const put = (queueId: number, bodies: string[], lifo = false, priority = 0, delayMs = 0) =>
      admin.query(`SELECT ${s}.put($1, 'unheard', $2::bytea[], $3::smallint, $4, 0, $5)`, [
        queueId,
        bodies.map(msgpackString),
        priority,
        delayMs,
        lifo,
      ]);
    const take = async (queueId: number, n: number, leaseMs: number) => {
      const { rows } = await admin.query<{ token: string; ids: string[] }>(
        `SELECT token, ids FROM ${s}.take($1, 'unheard', 'gone', $2, $3, false, false, true, 1048576)`,
        [queueId, n, leaseMs],
      );
      return rows[0]!;
    };
    // Under 0004: fifo a (taken by a holder that is gone: its lease lapsed, attempt 1 counted), b, c waiting;
    // lifo x, y then z on top; priority low then high; a delayed item; held: d under a live lease.
    const fifo = await declare('fifo', {});
    await put(fifo, ['a', 'b', 'c']);
    const lapsed = await take(fifo, 1, 1);
    const lifo = await declare('lifo', { order: 'lifo' });
    await put(lifo, ['x', 'y'], true);
    await put(lifo, ['z'], true);
    const prio = await declare('prio', { order: 'priority' });
    await put(prio, ['low'], false, 1);
    await put(prio, ['high'], false, 5);
    await put(prio, ['later'], false, 9, 60_000);
    const held = await declare('held', {});
    await put(held, ['d']);
    await take(held, 1, 60_000);
    const { rows: before } = await admin.query<{ id: string; payload: Buffer }>(
      `SELECT i.id::text AS id, i.payload FROM ${s}.items AS i ORDER BY i.id`,
    );

    expect(await migrate(admin, schema, '0005-items-in-chunks')).toEqual(['0005-items-in-chunks']);
    // Every waiting item kept its id and payload, in a chunk of its own.
    const { rows: after } = await admin.query<{ id: string; payload: Buffer }>(
      `SELECT u.id::text AS id, u.payload FROM ${s}.chunks AS c, unnest(c.ids, c.payloads) AS u(id, payload)
       ORDER BY u.id`,
    );
    expect(after).toEqual(before);

    const connection = await transport.connect({ url: POSTGRES_URL, schema });
    try {
      const drain = async (name: string, count: number, options = {}) => {
        const queue = await connection.queue<string>(name, options);
        const served: [string, number][] = [];
        for (let i = 0; i < count; i++) {
          const delivery = await queue.get({ timeoutMs: 1000 });
          served.push([delivery.body, delivery.attempt]);
          if (delivery.body === 'a') expect(delivery.id).toBe(lapsed.ids[0]);
          await delivery.ack();
        }
        return served;
      };
      expect(await drain('fifo', 3)).toEqual([
        ['b', 1],
        ['c', 1],
        ['a', 2],
      ]);
      expect((await drain('lifo', 3, { order: 'lifo' })).map(([body]) => body)).toEqual(['z', 'y', 'x']);
      expect((await drain('prio', 2, { order: 'priority' })).map(([body]) => body)).toEqual(['high', 'low']);
      expect(await connection.stats('prio')).toMatchObject({ ready: 0, delayed: 1 });
      expect(await connection.stats('held')).toMatchObject({ ready: 0, inFlight: 1 });
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

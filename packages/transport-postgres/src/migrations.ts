import type { ClientBase } from 'pg';
import { ITEMS_IN_CHUNKS } from './items-in-chunks.js';
import { LEASE_PER_TAKE } from './lease-per-take.js';
import { schemaLiteral as literal, quoteIdent } from './sql.js';
import { TAKE_AS_ONE_ROW } from './take-as-one-row.js';

/** One step of the schema: applied once, in order, recorded in `<schema>.migrations`. */
export interface Migration {
  readonly version: string;
  /** The statements, for the schema named by the quoted identifier `s`. */
  readonly sql: (s: string) => string;
}

// An item is ready or delayed while `owner` is NULL, and held by a delivery while `owner` names a connection;
// `token` tells that delivery from a later one of the same item, so a late settle is a no-op. `seq` is the serving
// order: a returned item gets a fresh one, which puts it behind the waiting items (negative in a LIFO, whose bottom
// is served last). A held item is served again once `lease_until` passes: its visibility timeout, or, on queues
// without one (`renewable`), its holder's lease, which a live holder keeps renewing.
//
// The functions keep every multi-statement operation to one round trip: a put counts and inserts under the queue's
// advisory lock (so two bounded puts never both see room), a take first returns lapsed leases behind the waiting
// items, then holds up to n items with FOR UPDATE SKIP LOCKED (concurrent takers never wait for each other).
// Every change that can let a taker or a waiting put proceed NOTIFYs the queue's wake channel.
// (The layout of versions 0001 and 0002; 0003 moves held items into one lease row per take: lease-per-take.ts;
// 0004 answers a take with one row: take-as-one-row.ts; 0005 stores waiting items in chunks: items-in-chunks.ts.)
const MIGRATIONS: readonly Migration[] = [
  {
    version: '0001-items',
    sql: (s) => `
CREATE TABLE ${s}.queues (
  name text PRIMARY KEY,
  options jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE SEQUENCE ${s}.serial;
CREATE TABLE ${s}.items (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  queue text NOT NULL,
  seq bigint NOT NULL,
  priority smallint NOT NULL DEFAULT 0,
  ready_at timestamptz NOT NULL,
  attempt integer NOT NULL DEFAULT 0,
  payload bytea NOT NULL,
  owner text,
  token bigint,
  lease_until timestamptz,
  renewable boolean NOT NULL DEFAULT false
);
CREATE INDEX items_waiting ON ${s}.items (queue, priority DESC, seq) WHERE owner IS NULL;
CREATE INDEX items_held ON ${s}.items (queue, lease_until) WHERE owner IS NOT NULL;

CREATE FUNCTION ${s}.wake_channel(q text) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT 'tw_' || left(md5(${literal(s)} || '/' || q), 24) $$;

CREATE FUNCTION ${s}.put(q text, payloads bytea[], prio smallint, delay_ms float8, maxsize integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  room integer := cardinality(payloads);
BEGIN
  IF maxsize > 0 THEN
    PERFORM pg_advisory_xact_lock(hashtextextended(${literal(s)} || '/' || q, 0));
    SELECT greatest(0, maxsize - count(*))::integer INTO room FROM ${s}.items WHERE queue = q AND owner IS NULL;
    room := least(room, cardinality(payloads));
    IF room = 0 THEN RETURN 0; END IF;
  END IF;
  INSERT INTO ${s}.items (queue, seq, priority, ready_at, payload)
    SELECT q, nextval('${s}.serial'), prio, now() + delay_ms * interval '1 millisecond', p
    FROM unnest(payloads) WITH ORDINALITY AS u(p, i) ORDER BY i LIMIT room;
  PERFORM pg_notify(${s}.wake_channel(q), '');
  RETURN room;
END $$;

CREATE FUNCTION ${s}.take(q text, taker text, n integer, lease_ms float8, renew boolean, lifo boolean,
    bounded boolean, durable boolean)
RETURNS TABLE (id bigint, attempt integer, payload bytea, token bigint, priority smallint, seq bigint)
LANGUAGE plpgsql AS $$
DECLARE
  taken bigint;
BEGIN
  IF NOT durable THEN PERFORM set_config('synchronous_commit', 'off', true); END IF;
  UPDATE ${s}.items AS it SET owner = NULL, token = NULL, lease_until = NULL,
      seq = CASE WHEN lifo THEN -nextval('${s}.serial') ELSE nextval('${s}.serial') END
    WHERE it.id = ANY (ARRAY(
      SELECT e.id FROM ${s}.items AS e WHERE e.queue = q AND e.owner IS NOT NULL AND e.lease_until <= now()
      FOR UPDATE SKIP LOCKED));
  IF lifo THEN
    RETURN QUERY WITH held AS (
      UPDATE ${s}.items AS it SET owner = taker, token = nextval('${s}.serial'), attempt = it.attempt + 1,
          lease_until = now() + lease_ms * interval '1 millisecond', renewable = renew
        WHERE it.id = ANY (ARRAY(
          SELECT w.id FROM ${s}.items AS w WHERE w.queue = q AND w.owner IS NULL AND w.ready_at <= now()
          ORDER BY w.priority DESC, w.seq DESC LIMIT n FOR UPDATE SKIP LOCKED))
        RETURNING it.id, it.attempt, it.payload, it.token, it.priority, it.seq)
      SELECT * FROM held ORDER BY held.priority DESC, held.seq DESC;
  ELSE
    RETURN QUERY WITH held AS (
      UPDATE ${s}.items AS it SET owner = taker, token = nextval('${s}.serial'), attempt = it.attempt + 1,
          lease_until = now() + lease_ms * interval '1 millisecond', renewable = renew
        WHERE it.id = ANY (ARRAY(
          SELECT w.id FROM ${s}.items AS w WHERE w.queue = q AND w.owner IS NULL AND w.ready_at <= now()
          ORDER BY w.priority DESC, w.seq LIMIT n FOR UPDATE SKIP LOCKED))
        RETURNING it.id, it.attempt, it.payload, it.token, it.priority, it.seq)
      SELECT * FROM held ORDER BY held.priority DESC, held.seq;
  END IF;
  -- A take makes room on a bounded queue: wake the puts waiting for it.
  GET DIAGNOSTICS taken = ROW_COUNT;
  IF bounded AND taken > 0 THEN PERFORM pg_notify(${s}.wake_channel(q), ''); END IF;
END $$;

CREATE FUNCTION ${s}.release(ids bigint[], tokens bigint[], delays float8[], uncount integer[], lifo boolean)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  q text;
  woken text[] := '{}';
BEGIN
  -- One at a time, in the order given: each goes behind the ones before it.
  FOR i IN 1 .. cardinality(ids) LOOP
    UPDATE ${s}.items SET owner = NULL, token = NULL, lease_until = NULL,
        seq = CASE WHEN lifo THEN -nextval('${s}.serial') ELSE nextval('${s}.serial') END,
        ready_at = now() + delays[i] * interval '1 millisecond', attempt = attempt - uncount[i]
      WHERE id = ids[i] AND token = tokens[i] RETURNING queue INTO q;
    IF q IS NOT NULL AND NOT q = ANY (woken) THEN
      woken := woken || q;
      PERFORM pg_notify(${s}.wake_channel(q), '');
    END IF;
  END LOOP;
END $$;

CREATE FUNCTION ${s}.dead_letter(item bigint, tok bigint, target text, target_options jsonb)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO ${s}.queues (name, options) VALUES (target, target_options) ON CONFLICT DO NOTHING;
  UPDATE ${s}.items SET queue = target, owner = NULL, token = NULL, lease_until = NULL, priority = 0,
      seq = nextval('${s}.serial'), ready_at = now(), attempt = 0
    WHERE id = item AND token = tok;
  IF FOUND THEN PERFORM pg_notify(${s}.wake_channel(target), ''); END IF;
END $$;

CREATE FUNCTION ${s}.move_items(source text, target text, n bigint, only_ids bigint[], source_lifo boolean,
    keep_priority boolean, target_lifo boolean, target_maxsize integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  room bigint := n;
  moved integer := 0;
  r record;
BEGIN
  IF target_maxsize > 0 THEN
    PERFORM pg_advisory_xact_lock(hashtextextended(${literal(s)} || '/' || target, 0));
    SELECT least(room, greatest(0, target_maxsize - count(*))) INTO room
      FROM ${s}.items WHERE queue = target AND owner IS NULL;
  END IF;
  FOR r IN
    SELECT m.id FROM ${s}.items AS m
    WHERE m.queue = source AND m.owner IS NULL AND (only_ids IS NULL OR m.id = ANY (only_ids))
    ORDER BY m.ready_at > now(), CASE WHEN m.ready_at > now() THEN m.ready_at END, m.priority DESC,
      CASE WHEN source_lifo THEN -m.seq ELSE m.seq END
    LIMIT room FOR UPDATE SKIP LOCKED
  LOOP
    UPDATE ${s}.items SET queue = target, attempt = 0, ready_at = now(),
        priority = CASE WHEN keep_priority THEN priority ELSE 0 END,
        seq = CASE WHEN target_lifo THEN -nextval('${s}.serial') ELSE nextval('${s}.serial') END
      WHERE id = r.id;
    moved := moved + 1;
  END LOOP;
  IF moved > 0 THEN
    PERFORM pg_notify(${s}.wake_channel(source), '');
    PERFORM pg_notify(${s}.wake_channel(target), '');
  END IF;
  RETURN moved;
END $$;
`,
  },
  {
    // Fewer statements and sequence calls per item (a nextval costs about as much as the rest of a row's update):
    // a consumer's acks ride on its next take (one commit instead of two); a take draws one token for all its items
    // (a later take still draws a greater one); a put draws one number per item, its id and its place in line both.
    version: '0002-fewer-round-trips',
    sql: (s) => `
ALTER TABLE ${s}.items ALTER COLUMN id DROP IDENTITY;
SELECT setval('${s}.serial', greatest((SELECT last_value FROM ${s}.serial), (SELECT max(id) FROM ${s}.items)));
ALTER TABLE ${s}.items ALTER COLUMN id SET DEFAULT nextval('${s}.serial');

CREATE OR REPLACE FUNCTION ${s}.put(q text, payloads bytea[], prio smallint, delay_ms float8, maxsize integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  room integer := cardinality(payloads);
BEGIN
  IF maxsize > 0 THEN
    PERFORM pg_advisory_xact_lock(hashtextextended(${literal(s)} || '/' || q, 0));
    SELECT greatest(0, maxsize - count(*))::integer INTO room FROM ${s}.items WHERE queue = q AND owner IS NULL;
    room := least(room, cardinality(payloads));
    IF room = 0 THEN RETURN 0; END IF;
  END IF;
  INSERT INTO ${s}.items (id, queue, seq, priority, ready_at, payload)
    SELECT n, q, n, prio, now() + delay_ms * interval '1 millisecond', p
    FROM (SELECT nextval('${s}.serial') AS n, u.p FROM unnest(payloads) WITH ORDINALITY AS u(p, i)
          ORDER BY u.i LIMIT room) AS numbered;
  PERFORM pg_notify(${s}.wake_channel(q), '');
  RETURN room;
END $$;

CREATE OR REPLACE FUNCTION ${s}.take(q text, taker text, n integer, lease_ms float8, renew boolean, lifo boolean,
    bounded boolean, durable boolean)
RETURNS TABLE (id bigint, attempt integer, payload bytea, token bigint, priority smallint, seq bigint)
LANGUAGE plpgsql AS $$
DECLARE
  taken bigint;
  tok bigint := nextval('${s}.serial');
BEGIN
  IF NOT durable THEN PERFORM set_config('synchronous_commit', 'off', true); END IF;
  UPDATE ${s}.items AS it SET owner = NULL, token = NULL, lease_until = NULL,
      seq = CASE WHEN lifo THEN -nextval('${s}.serial') ELSE nextval('${s}.serial') END
    WHERE it.id = ANY (ARRAY(
      SELECT e.id FROM ${s}.items AS e WHERE e.queue = q AND e.owner IS NOT NULL AND e.lease_until <= now()
      FOR UPDATE SKIP LOCKED));
  IF lifo THEN
    RETURN QUERY WITH held AS (
      UPDATE ${s}.items AS it SET owner = taker, token = tok, attempt = it.attempt + 1,
          lease_until = now() + lease_ms * interval '1 millisecond', renewable = renew
        WHERE it.id = ANY (ARRAY(
          SELECT w.id FROM ${s}.items AS w WHERE w.queue = q AND w.owner IS NULL AND w.ready_at <= now()
          ORDER BY w.priority DESC, w.seq DESC LIMIT n FOR UPDATE SKIP LOCKED))
        RETURNING it.id, it.attempt, it.payload, it.token, it.priority, it.seq)
      SELECT * FROM held ORDER BY held.priority DESC, held.seq DESC;
  ELSE
    RETURN QUERY WITH held AS (
      UPDATE ${s}.items AS it SET owner = taker, token = tok, attempt = it.attempt + 1,
          lease_until = now() + lease_ms * interval '1 millisecond', renewable = renew
        WHERE it.id = ANY (ARRAY(
          SELECT w.id FROM ${s}.items AS w WHERE w.queue = q AND w.owner IS NULL AND w.ready_at <= now()
          ORDER BY w.priority DESC, w.seq LIMIT n FOR UPDATE SKIP LOCKED))
        RETURNING it.id, it.attempt, it.payload, it.token, it.priority, it.seq)
      SELECT * FROM held ORDER BY held.priority DESC, held.seq;
  END IF;
  -- A take makes room on a bounded queue: wake the puts waiting for it.
  GET DIAGNOSTICS taken = ROW_COUNT;
  IF bounded AND taken > 0 THEN PERFORM pg_notify(${s}.wake_channel(q), ''); END IF;
END $$;

CREATE FUNCTION ${s}.ack_and_take(ack_ids bigint[], ack_tokens bigint[], q text, taker text, n integer,
    lease_ms float8, renew boolean, lifo boolean, bounded boolean, durable boolean)
RETURNS TABLE (id bigint, attempt integer, payload bytea, token bigint, priority smallint, seq bigint)
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM ${s}.items AS it USING unnest(ack_ids, ack_tokens) AS a(id, token)
    WHERE it.id = a.id AND it.token = a.token;
  RETURN QUERY SELECT * FROM ${s}.take(q, taker, n, lease_ms, renew, lifo, bounded, durable);
END $$;
`,
  },
  LEASE_PER_TAKE,
  TAKE_AS_ONE_ROW,
  ITEMS_IN_CHUNKS,
];

/** The versions this package knows, oldest first. */
export const MIGRATION_VERSIONS: readonly string[] = MIGRATIONS.map((migration) => migration.version);

/** True when `schema` has every migration applied: one cheap read, so connects skip the lock. */
async function upToDate(client: ClientBase, schema: string): Promise<boolean> {
  const table = `${quoteIdent(schema)}.migrations`;
  const found = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [table]);
  if (!found.rows[0]?.t) return false;
  const applied = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
  return Number(applied.rows[0]!.n) >= MIGRATIONS.length;
}

/**
 * Bring `schema` to this version in one transaction under an advisory lock (concurrent connects wait for each
 * other instead of racing to create the same tables); resolve with the versions applied, none when up to date.
 * `upTo` stops after that version (tests build an older schema with it).
 */
export async function migrate(client: ClientBase, schema: string, upTo?: string): Promise<string[]> {
  if (upTo === undefined && (await upToDate(client, schema))) return [];
  const s = quoteIdent(schema);
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
      `taskwire-migrate/${schema}`,
    ]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = new Set(
      (await client.query<{ version: string }>(`SELECT version FROM ${s}.migrations`)).rows.map(
        (r) => r.version,
      ),
    );
    const applied: string[] = [];
    for (const migration of MIGRATIONS) {
      if (done.has(migration.version)) continue;
      await client.query(migration.sql(s));
      await client.query(`INSERT INTO ${s}.migrations (version) VALUES ($1)`, [migration.version]);
      applied.push(migration.version);
      if (migration.version === upTo) break;
    }
    await client.query('COMMIT');
    return applied;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

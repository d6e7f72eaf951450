import { resolveQueueOptions } from '@taskwire/core/transport';
import type { Migration } from './migrations.js';
import { schemaLiteral } from './sql.js';

/** A queue named only by rows (inserted behind the transport's back) is declared with the default options. */
const DEFAULT_OPTIONS = JSON.stringify(resolveQueueOptions()).replaceAll("'", "''");

// Version 0003: a take writes one row, not one per item. `items` holds only waiting items (ready or delayed), one
// narrow row each: its queue's number (`queues.id`), not its name, and one index, the serving order
// `(queue_id, priority DESC, seq)`; a LIFO put gets a negative `seq`, so every queue is served by ascending `seq`
// and anything going behind (a release, a lapsed lease, a move) gets a fresh positive one. A take deletes its items
// and inserts one `leases` row that keeps them (ids, priorities, counted attempts, payloads) until they are settled:
// the acks of a whole take delete that row; a partial settle records the ids in `settled`; a release or a
// dead-lettering puts the item back in `items` (the same id); a lapsed lease puts back every unsettled item, behind
// the waiting ones, attempts counted. The lease's `token` tells the take from any later one of the same items.
export const LEASE_PER_TAKE: Migration = {
  version: '0003-lease-per-take',
  sql: (s) => `
ALTER TABLE ${s}.queues ADD COLUMN id integer GENERATED ALWAYS AS IDENTITY UNIQUE;
ALTER TABLE ${s}.items RENAME TO items_0002;

CREATE TABLE ${s}.items (
  queue_id integer NOT NULL,
  priority smallint NOT NULL DEFAULT 0,
  seq bigint NOT NULL DEFAULT nextval('${s}.serial'),
  id bigint NOT NULL DEFAULT nextval('${s}.serial'),
  ready_at timestamptz NOT NULL DEFAULT now(),
  attempt integer NOT NULL DEFAULT 0,
  payload bytea NOT NULL
);
CREATE INDEX items_line ON ${s}.items (queue_id, priority DESC, seq);
CREATE TABLE ${s}.leases (
  token bigint PRIMARY KEY,
  queue_id integer NOT NULL,
  owner text NOT NULL,
  lease_until timestamptz NOT NULL,
  renewable boolean NOT NULL,
  ids bigint[] NOT NULL,
  priorities smallint[] NOT NULL,
  attempts integer[] NOT NULL,
  payloads bytea[] NOT NULL,
  settled bigint[] NOT NULL DEFAULT '{}'
);
CREATE INDEX leases_queue ON ${s}.leases (queue_id, lease_until);

INSERT INTO ${s}.queues (name, options)
  SELECT DISTINCT i.queue, '${DEFAULT_OPTIONS}'::jsonb FROM ${s}.items_0002 AS i
  WHERE NOT EXISTS (SELECT 1 FROM ${s}.queues AS q WHERE q.name = i.queue);
INSERT INTO ${s}.items (queue_id, priority, seq, id, ready_at, attempt, payload)
  SELECT q.id, i.priority, CASE WHEN q.options->>'order' = 'lifo' THEN -i.seq ELSE i.seq END, i.id, i.ready_at,
    i.attempt, i.payload
  FROM ${s}.items_0002 AS i JOIN ${s}.queues AS q ON q.name = i.queue WHERE i.owner IS NULL;
INSERT INTO ${s}.leases (token, queue_id, owner, lease_until, renewable, ids, priorities, attempts, payloads)
  SELECT i.token, q.id, i.owner, min(i.lease_until), bool_and(i.renewable), array_agg(i.id ORDER BY i.seq),
    array_agg(i.priority ORDER BY i.seq), array_agg(i.attempt ORDER BY i.seq), array_agg(i.payload ORDER BY i.seq)
  FROM ${s}.items_0002 AS i JOIN ${s}.queues AS q ON q.name = i.queue WHERE i.owner IS NOT NULL
  GROUP BY i.token, q.id, i.owner;
DROP TABLE ${s}.items_0002;

DROP FUNCTION ${s}.ack_and_take(bigint[], bigint[], text, text, integer, float8, boolean, boolean, boolean, boolean);
DROP FUNCTION ${s}.take(text, text, integer, float8, boolean, boolean, boolean, boolean);
DROP FUNCTION ${s}.put(text, bytea[], smallint, float8, integer);
DROP FUNCTION ${s}.release(bigint[], bigint[], float8[], integer[], boolean);
DROP FUNCTION ${s}.dead_letter(bigint, bigint, text, jsonb);
DROP FUNCTION ${s}.move_items(text, text, bigint, bigint[], boolean, boolean, boolean, integer);

-- Bounded puts and moves into a bounded queue count under this lock.
CREATE FUNCTION ${s}.lock_queue(qid integer) RETURNS void LANGUAGE sql AS
$$ SELECT pg_advisory_xact_lock(hashtextextended(${schemaLiteral(s)} || '/#' || qid, 0)) $$;

CREATE FUNCTION ${s}.put(qid integer, channel text, payloads bytea[], prio smallint, delay_ms float8,
    maxsize integer, lifo boolean)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  room integer := cardinality(payloads);
  ready timestamptz := now() + delay_ms * interval '1 millisecond';
BEGIN
  IF maxsize > 0 THEN
    PERFORM ${s}.lock_queue(qid);
    SELECT greatest(0, maxsize - count(*))::integer INTO room FROM ${s}.items AS i WHERE i.queue_id = qid;
    room := least(room, cardinality(payloads));
    IF room = 0 THEN RETURN 0; END IF;
  END IF;
  INSERT INTO ${s}.items (queue_id, priority, seq, id, ready_at, attempt, payload)
    SELECT qid, prio, CASE WHEN lifo THEN -numbered.n ELSE numbered.n END, numbered.n, ready, 0, numbered.p
    FROM (SELECT nextval('${s}.serial') AS n, u.p FROM unnest(payloads) AS u(p) LIMIT room) AS numbered;
  PERFORM pg_notify(channel, '');
  RETURN room;
END $$;

-- Lapsed leases of queue qid give their unsettled items back, behind the waiting ones, attempts counted.
CREATE FUNCTION ${s}.reap(qid integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  WITH lapsed AS (
    DELETE FROM ${s}.leases AS l WHERE l.token = ANY (ARRAY(
      SELECT e.token FROM ${s}.leases AS e WHERE e.queue_id = qid AND e.lease_until <= now()
      ORDER BY e.lease_until FOR UPDATE SKIP LOCKED))
    RETURNING l.token, l.ids, l.priorities, l.attempts, l.payloads, l.settled)
  INSERT INTO ${s}.items (queue_id, priority, seq, id, ready_at, attempt, payload)
    SELECT qid, r.priority, nextval('${s}.serial'), r.id, now(), r.attempt, r.payload
    FROM (SELECT u.id, u.priority, u.attempt, u.payload
          FROM lapsed AS l, unnest(l.ids, l.priorities, l.attempts, l.payloads) WITH ORDINALITY
            AS u(id, priority, attempt, payload, k)
          WHERE u.id <> ALL (l.settled) ORDER BY l.token, u.k) AS r;
END $$;

CREATE FUNCTION ${s}.take(qid integer, channel text, taker text, n integer, lease_ms float8, renew boolean,
    bounded boolean, durable boolean)
RETURNS TABLE (id bigint, attempt integer, payload bytea, token bigint)
LANGUAGE plpgsql AS $$
DECLARE
  tok bigint;
  taken bigint;
BEGIN
  IF NOT durable THEN PERFORM set_config('synchronous_commit', 'off', true); END IF;
  PERFORM ${s}.reap(qid);
  tok := nextval('${s}.serial');
  -- The deleted rows come back in physical order: sorted once into serving order, for the lease and the reply.
  RETURN QUERY WITH held AS (
    DELETE FROM ${s}.items AS it WHERE it.ctid = ANY (ARRAY(
      SELECT w.ctid FROM ${s}.items AS w WHERE w.queue_id = qid AND w.ready_at <= now()
      ORDER BY w.priority DESC, w.seq LIMIT n FOR UPDATE SKIP LOCKED))
    RETURNING it.id, it.attempt + 1 AS attempt, it.payload, it.priority, it.seq),
  ordered AS MATERIALIZED (SELECT * FROM held AS h ORDER BY h.priority DESC, h.seq),
  lease AS (
    INSERT INTO ${s}.leases (token, queue_id, owner, lease_until, renewable, ids, priorities, attempts, payloads)
      SELECT tok, qid, taker, now() + lease_ms * interval '1 millisecond', renew,
        array_agg(o.id), array_agg(o.priority), array_agg(o.attempt), array_agg(o.payload)
      FROM ordered AS o HAVING count(*) > 0)
  SELECT o.id, o.attempt, o.payload, tok FROM ordered AS o;
  -- A take makes room on a bounded queue: wake the puts waiting for it.
  GET DIAGNOSTICS taken = ROW_COUNT;
  IF bounded AND taken > 0 THEN PERFORM pg_notify(channel, ''); END IF;
END $$;

-- Acks of items: leases (distinct toks) with how many of each, and every item with its lease.
CREATE FUNCTION ${s}.ack(toks bigint[], counts integer[], item_toks bigint[], item_ids bigint[], durable boolean)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  gone integer;
  complete bigint[];
BEGIN
  IF NOT durable THEN PERFORM set_config('synchronous_commit', 'off', true); END IF;
  -- A take's items are usually acked together: its lease goes in one write, and nothing else is needed.
  DELETE FROM ${s}.leases AS l USING unnest(toks, counts) AS a(t, n)
    WHERE l.token = a.t AND cardinality(l.settled) + a.n >= cardinality(l.ids);
  GET DIAGNOSTICS gone = ROW_COUNT;
  IF gone = cardinality(toks) THEN RETURN; END IF;
  -- The others record what was settled. A concurrent settle of the same lease waits for the row, then adds to it;
  -- whichever completes it deletes it.
  WITH grown AS (
    UPDATE ${s}.leases AS l SET settled = l.settled || a.ids
      FROM (SELECT a.t, array_agg(a.i) AS ids FROM unnest(item_toks, item_ids) AS a(t, i) GROUP BY a.t) AS a
      WHERE l.token = a.t
      RETURNING l.token, cardinality(l.settled) >= cardinality(l.ids) AS done)
  SELECT array_agg(g.token) INTO complete FROM grown AS g WHERE g.done;
  IF complete IS NOT NULL THEN DELETE FROM ${s}.leases AS l WHERE l.token = ANY (complete); END IF;
END $$;

CREATE FUNCTION ${s}.ack_and_take(toks bigint[], counts integer[], item_toks bigint[], item_ids bigint[],
    qid integer, channel text, taker text, n integer, lease_ms float8, renew boolean, bounded boolean, durable boolean)
RETURNS TABLE (id bigint, attempt integer, payload bytea, token bigint)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM ${s}.ack(toks, counts, item_toks, item_ids, durable);
  RETURN QUERY SELECT * FROM ${s}.take(qid, channel, taker, n, lease_ms, renew, bounded, durable);
END $$;

-- Settle item of lease tok, when that lease still holds it: resolve with what the take kept of it.
CREATE FUNCTION ${s}.unlease(tok bigint, item bigint, OUT queue_id integer, OUT priority smallint,
    OUT attempt integer, OUT payload bytea)
LANGUAGE plpgsql AS $$
DECLARE
  done boolean;
BEGIN
  UPDATE ${s}.leases AS l SET settled = l.settled || item
    WHERE l.token = tok AND item = ANY (l.ids) AND item <> ALL (l.settled)
    RETURNING l.queue_id, l.priorities[array_position(l.ids, item)], l.attempts[array_position(l.ids, item)],
      l.payloads[array_position(l.ids, item)], cardinality(l.settled) >= cardinality(l.ids)
    INTO queue_id, priority, attempt, payload, done;
  IF done THEN DELETE FROM ${s}.leases AS l WHERE l.token = tok; END IF;
END $$;

CREATE FUNCTION ${s}.release(channel text, toks bigint[], item_ids bigint[], delays float8[], uncount integer[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  back record;
  released boolean := false;
BEGIN
  -- One at a time, in the order given: each goes behind the ones before it.
  FOR i IN 1 .. cardinality(item_ids) LOOP
    SELECT * INTO back FROM ${s}.unlease(toks[i], item_ids[i]);
    CONTINUE WHEN back.queue_id IS NULL;
    INSERT INTO ${s}.items (queue_id, priority, seq, id, ready_at, attempt, payload)
      VALUES (back.queue_id, back.priority, nextval('${s}.serial'), item_ids[i],
        now() + delays[i] * interval '1 millisecond', back.attempt - uncount[i], back.payload);
    released := true;
  END LOOP;
  IF released THEN PERFORM pg_notify(channel, ''); END IF;
END $$;

CREATE FUNCTION ${s}.dead_letter(tok bigint, item bigint, target text, target_options jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  target_id integer;
  target_lifo boolean;
  back record;
  n bigint;
BEGIN
  INSERT INTO ${s}.queues (name, options) VALUES (target, target_options) ON CONFLICT DO NOTHING;
  SELECT q.id, q.options->>'order' = 'lifo' INTO target_id, target_lifo FROM ${s}.queues AS q WHERE q.name = target;
  SELECT * INTO back FROM ${s}.unlease(tok, item);
  IF back.queue_id IS NULL THEN RETURN; END IF;
  n := nextval('${s}.serial');
  INSERT INTO ${s}.items (queue_id, priority, seq, id, ready_at, attempt, payload)
    VALUES (target_id, 0, CASE WHEN target_lifo THEN -n ELSE n END, item, now(), 0, back.payload);
  PERFORM pg_notify(${s}.wake_channel(target), '');
END $$;

CREATE FUNCTION ${s}.move_items(source text, target text, n bigint, only_ids bigint[], keep_priority boolean,
    target_maxsize integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  source_id integer := (SELECT q.id FROM ${s}.queues AS q WHERE q.name = source);
  target_id integer := (SELECT q.id FROM ${s}.queues AS q WHERE q.name = target);
  room bigint := n;
  moved integer := 0;
  r record;
BEGIN
  IF target_maxsize > 0 THEN
    PERFORM ${s}.lock_queue(target_id);
    SELECT least(room, greatest(0, target_maxsize - count(*))) INTO room
      FROM ${s}.items AS i WHERE i.queue_id = target_id;
  END IF;
  FOR r IN
    SELECT m.ctid AS c FROM ${s}.items AS m
    WHERE m.queue_id = source_id AND (only_ids IS NULL OR m.id = ANY (only_ids))
    ORDER BY m.ready_at > now(), CASE WHEN m.ready_at > now() THEN m.ready_at END, m.priority DESC, m.seq
    LIMIT room FOR UPDATE SKIP LOCKED
  LOOP
    UPDATE ${s}.items AS m SET queue_id = target_id, attempt = 0, ready_at = now(),
        priority = CASE WHEN keep_priority THEN m.priority ELSE 0 END, seq = nextval('${s}.serial')
      WHERE m.ctid = r.c;
    moved := moved + 1;
  END LOOP;
  IF moved > 0 THEN
    PERFORM pg_notify(${s}.wake_channel(source), '');
    PERFORM pg_notify(${s}.wake_channel(target), '');
  END IF;
  RETURN moved;
END $$;
`,
};

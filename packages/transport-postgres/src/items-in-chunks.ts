import type { Migration } from './migrations.js';

// Version 0005: waiting items are stored in chunks, not a row each. A put of many items writes one row per up to
// 64 items (and about 64 KiB of payloads): the items' ids, counted attempts and payloads as arrays, in serving
// order, under the chunk's queue, priority, `seq` and `ready_at`. A row costs the server far more than an array
// element (its header, its index entry, its WAL record, its row lock when taken), and a queue moves items in
// batches: a worker's results, a master's tasks. A take walks the queue's chunks in serving order, each locked with
// FOR UPDATE SKIP LOCKED, deletes the ones it takes whole and cuts the one it takes part of. A taker that skipped a
// locked chunk and found nothing else is told to look again at once: an empty take's `next_ms` counts every ready
// chunk, locked ones too. (A cut sends no NOTIFY: it would wake every listener of the queue on most takes.)
// A fresh item's id is its chunk's number times 65,536 plus its place in the chunk: one sequence value per chunk,
// ids still unique (and above every id handed out before). `attempts` NULL means every attempt is 0 (fresh puts).
// Items going back one at a time (a release, a lapsed lease, a dead-lettering, a move) go back as chunks of their
// own. A LIFO put stores its items reversed, so every chunk is read from its first element.
// Only the functions that read or write waiting items change; leases are as in 0003.
export const ITEMS_IN_CHUNKS: Migration = {
  version: '0005-items-in-chunks',
  sql: (s) => `
CREATE TABLE ${s}.chunks (
  queue_id integer NOT NULL,
  priority smallint NOT NULL DEFAULT 0,
  seq bigint NOT NULL DEFAULT nextval('${s}.serial'),
  ready_at timestamptz NOT NULL DEFAULT now(),
  ids bigint[] NOT NULL DEFAULT ARRAY[nextval('${s}.serial')],
  attempts integer[],
  payloads bytea[] NOT NULL
);
CREATE INDEX chunks_line ON ${s}.chunks (queue_id, priority DESC, seq);
INSERT INTO ${s}.chunks (queue_id, priority, seq, ready_at, ids, attempts, payloads)
  SELECT i.queue_id, i.priority, i.seq, i.ready_at, ARRAY[i.id], ARRAY[i.attempt], ARRAY[i.payload]
  FROM ${s}.items AS i;
DROP TABLE ${s}.items;
-- Leases now keep the attempts counted before their take (a take no longer rewrites them): putting back counts it.
UPDATE ${s}.leases SET attempts = ARRAY(SELECT a - 1 FROM unnest(attempts) WITH ORDINALITY AS u(a, i) ORDER BY i);
-- Payloads are stored as they are: msgpack compresses little, and compressing on every put and take costs CPU.
ALTER TABLE ${s}.chunks ALTER COLUMN payloads SET STORAGE EXTERNAL;
ALTER TABLE ${s}.leases ALTER COLUMN payloads SET STORAGE EXTERNAL;

-- How many items queue qid holds (ready and delayed).
CREATE FUNCTION ${s}.waiting(qid integer) RETURNS bigint LANGUAGE sql STABLE AS
$$ SELECT coalesce(sum(cardinality(c.ids)), 0) FROM ${s}.chunks AS c WHERE c.queue_id = qid $$;

-- One item going back alone, behind the waiting ones of its queue (or at the front of a LIFO's line).
CREATE FUNCTION ${s}.put_back(qid integer, prio smallint, ready timestamptz, item bigint, attempt integer,
    payload bytea, lifo boolean) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  n bigint := nextval('${s}.serial');
BEGIN
  INSERT INTO ${s}.chunks (queue_id, priority, seq, ready_at, ids, attempts, payloads)
    VALUES (qid, prio, CASE WHEN lifo THEN -n ELSE n END, ready, ARRAY[item], ARRAY[attempt], ARRAY[payload]);
END $$;

DROP FUNCTION ${s}.put(integer, text, bytea[], smallint, float8, integer, boolean);

-- Store items 1..room of payloads in chunks: chunk g holds the items up to ends[g] (the client cuts them, at most
-- 64 items and about 64 KiB each). Each chunk takes the next sequence value, in put order; a LIFO's chunks are
-- stored reversed, its later chunks first in line.
CREATE FUNCTION ${s}.put(qid integer, channel text, payloads bytea[], ends integer[], prio smallint,
    delay_ms float8, maxsize integer, lifo boolean)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  room integer := cardinality(payloads);
  ready timestamptz := now() + delay_ms * interval '1 millisecond';
BEGIN
  IF maxsize > 0 THEN
    PERFORM ${s}.lock_queue(qid);
    room := least(room, greatest(0, maxsize - ${s}.waiting(qid)));
    IF room = 0 THEN RETURN 0; END IF;
  END IF;
  INSERT INTO ${s}.chunks (queue_id, priority, seq, ready_at, ids, payloads)
    SELECT qid, prio, CASE WHEN lifo THEN -c.n ELSE c.n END, ready,
      ARRAY(SELECT c.n * 65536 + i FROM generate_series(1, c.b - c.a + 1) AS i),
      CASE WHEN lifo THEN ARRAY(SELECT payloads[i] FROM generate_series(c.b, c.a, -1) AS i)
        ELSE payloads[c.a:c.b] END
    FROM (SELECT nextval('${s}.serial') AS n, r.a, r.b
          FROM (SELECT coalesce(ends[g - 1], 0) + 1 AS a, least(ends[g], room) AS b
                FROM generate_series(1, cardinality(ends)) AS g ORDER BY g) AS r
          WHERE r.a <= room) AS c;
  PERFORM pg_notify(channel, '');
  RETURN room;
END $$;

-- Lapsed leases of queue qid give their unsettled items back, behind the waiting ones, attempts counted.
CREATE OR REPLACE FUNCTION ${s}.reap(qid integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  WITH lapsed AS (
    DELETE FROM ${s}.leases AS l WHERE l.token = ANY (ARRAY(
      SELECT e.token FROM ${s}.leases AS e WHERE e.queue_id = qid AND e.lease_until <= now()
      ORDER BY e.lease_until FOR UPDATE SKIP LOCKED))
    RETURNING l.token, l.ids, l.priorities, l.attempts, l.payloads, l.settled)
  INSERT INTO ${s}.chunks (queue_id, priority, seq, ready_at, ids, attempts, payloads)
    SELECT qid, r.priority, nextval('${s}.serial'), now(), ARRAY[r.id], ARRAY[r.attempt + 1], ARRAY[r.payload]
    FROM (SELECT u.id, u.priority, u.attempt, u.payload
          FROM lapsed AS l, unnest(l.ids, l.priorities, l.attempts, l.payloads) WITH ORDINALITY
            AS u(id, priority, attempt, payload, k)
          WHERE u.id <> ALL (l.settled) ORDER BY l.token, u.k) AS r;
END $$;

DROP FUNCTION ${s}.ack_and_take(bigint[], integer[], bigint[], bigint[], integer, text, text, integer, float8,
  boolean, boolean, boolean, bigint);
DROP FUNCTION ${s}.take(integer, text, text, integer, float8, boolean, boolean, boolean, bigint);

-- Hold up to n ready items of queue qid in a new lease, in serving order, and answer as version 0004 does; an empty
-- take answers one row of NULLs but next_ms: the ms until the next delayed chunk or lapsed lease (NULL: none), so the
-- taker knows how long it may sleep without asking again.
CREATE FUNCTION ${s}.take(qid integer, channel text, taker text, n integer, lease_ms float8, renew boolean,
    bounded boolean, durable boolean, reply_bytes bigint)
RETURNS TABLE (token bigint, ids bigint[], attempts integer[], lengths integer[], payloads bytea, next_ms float8)
LANGUAGE plpgsql AS $$
DECLARE
  tok bigint;
  c record;
  want integer := n;
  k integer;
  whole tid[] := '{}';
  held_ids bigint[] := '{}';
  held_priorities smallint[] := '{}';
  held_attempts integer[] := '{}';
  held_payloads bytea[] := '{}';
  held_lengths integer[];
  total bigint;
BEGIN
  IF NOT durable THEN PERFORM set_config('synchronous_commit', 'off', true); END IF;
  -- Reaping writes; looking first (one probe of the leases index) keeps a take with nothing lapsed cheap.
  IF EXISTS (SELECT 1 FROM ${s}.leases AS l WHERE l.queue_id = qid AND l.lease_until <= now()) THEN
    PERFORM ${s}.reap(qid);
  END IF;
  -- Lock one chunk at a time, so only what is taken is locked: a concurrent taker skips to the next chunk.
  WHILE want > 0 LOOP
    SELECT ch.ctid AS at, ch.priority, ch.ids, ch.attempts, ch.payloads INTO c
      FROM ${s}.chunks AS ch WHERE ch.queue_id = qid AND ch.ready_at <= now() AND ch.ctid <> ALL (whole)
      ORDER BY ch.priority DESC, ch.seq LIMIT 1 FOR UPDATE SKIP LOCKED;
    EXIT WHEN NOT FOUND;
    k := cardinality(c.ids);
    IF k <= want THEN
      whole := whole || c.at;
    ELSE
      -- Taken in part: its first want items go, the rest stay where they are.
      UPDATE ${s}.chunks AS ch SET ids = ch.ids[want + 1:], attempts = ch.attempts[want + 1:],
          payloads = ch.payloads[want + 1:]
        WHERE ch.ctid = c.at;
      k := want;
    END IF;
    held_ids := held_ids || c.ids[1:k];
    held_priorities := held_priorities || array_fill(c.priority, ARRAY[k]);
    held_attempts := held_attempts || coalesce(c.attempts[1:k], array_fill(0, ARRAY[k]));
    held_payloads := held_payloads || c.payloads[1:k];
    want := want - k;
  END LOOP;
  IF want = n THEN
    RETURN QUERY SELECT NULL::bigint, NULL::bigint[], NULL::integer[], NULL::integer[], NULL::bytea,
      (extract(epoch FROM least(
        (SELECT min(ch.ready_at) FROM ${s}.chunks AS ch WHERE ch.queue_id = qid),
        (SELECT min(l.lease_until) FROM ${s}.leases AS l WHERE l.queue_id = qid)) - now()) * 1000)::float8;
    RETURN;
  END IF;
  DELETE FROM ${s}.chunks AS ch WHERE ch.ctid = ANY (whole);
  tok := nextval('${s}.serial');
  -- The lease keeps attempts as counted before this take: putting an item back counts this one.
  INSERT INTO ${s}.leases (token, queue_id, owner, lease_until, renewable, ids, priorities, attempts, payloads)
    VALUES (tok, qid, taker, now() + lease_ms * interval '1 millisecond', renew, held_ids, held_priorities,
      held_attempts, held_payloads);
  -- A take makes room on a bounded queue: wake the puts waiting for it. (A taker that skipped a chunk this take cut
  -- saw it in its next_ms, and looks again at once.)
  IF bounded THEN PERFORM pg_notify(channel, ''); END IF;
  SELECT array_agg(length(p)), sum(length(p)) INTO held_lengths, total FROM unnest(held_payloads) AS p;
  IF total <= reply_bytes THEN
    RETURN QUERY SELECT tok, held_ids, held_attempts, held_lengths, string_agg(p, ''::bytea), NULL::float8
      FROM unnest(held_payloads) AS p;
    RETURN;
  END IF;
  RETURN QUERY SELECT tok, ARRAY[u.id], ARRAY[u.attempt], ARRAY[length(u.payload)], u.payload, NULL::float8
    FROM unnest(held_ids, held_attempts, held_payloads) WITH ORDINALITY AS u(id, attempt, payload, i) ORDER BY u.i;
END $$;

DROP FUNCTION ${s}.ack(bigint[], integer[], bigint[], bigint[], boolean);

-- Acks of items: leases (distinct toks) with how many of each, and the items' ids grouped by lease in that order
-- (the client no longer sends a lease per item).
CREATE FUNCTION ${s}.ack(toks bigint[], counts integer[], item_ids bigint[], durable boolean)
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
      FROM (SELECT g.t, item_ids[g.upto - g.n + 1:g.upto] AS ids
            FROM (SELECT u.t, u.n, sum(u.n) OVER (ORDER BY u.k)::integer AS upto
                  FROM unnest(toks, counts) WITH ORDINALITY AS u(t, n, k)) AS g) AS a
      WHERE l.token = a.t
      RETURNING l.token, cardinality(l.settled) >= cardinality(l.ids) AS done)
  SELECT array_agg(g.token) INTO complete FROM grown AS g WHERE g.done;
  IF complete IS NOT NULL THEN DELETE FROM ${s}.leases AS l WHERE l.token = ANY (complete); END IF;
END $$;

CREATE FUNCTION ${s}.ack_and_take(toks bigint[], counts integer[], item_ids bigint[], qid integer, channel text,
    taker text, n integer, lease_ms float8, renew boolean, bounded boolean, durable boolean, reply_bytes bigint)
RETURNS TABLE (token bigint, ids bigint[], attempts integer[], lengths integer[], payloads bytea, next_ms float8)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM ${s}.ack(toks, counts, item_ids, durable);
  RETURN QUERY SELECT * FROM ${s}.take(qid, channel, taker, n, lease_ms, renew, bounded, durable, reply_bytes);
END $$;

CREATE OR REPLACE FUNCTION ${s}.release(channel text, toks bigint[], item_ids bigint[], delays float8[],
    uncount integer[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  back record;
  released boolean := false;
BEGIN
  -- One at a time, in the order given: each goes behind the ones before it.
  FOR i IN 1 .. cardinality(item_ids) LOOP
    SELECT * INTO back FROM ${s}.unlease(toks[i], item_ids[i]);
    CONTINUE WHEN back.queue_id IS NULL;
    PERFORM ${s}.put_back(back.queue_id, back.priority, now() + delays[i] * interval '1 millisecond', item_ids[i],
      back.attempt + 1 - uncount[i], back.payload, false);
    released := true;
  END LOOP;
  IF released THEN PERFORM pg_notify(channel, ''); END IF;
END $$;

CREATE OR REPLACE FUNCTION ${s}.dead_letter(tok bigint, item bigint, target text, target_options jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  target_id integer;
  target_lifo boolean;
  back record;
BEGIN
  INSERT INTO ${s}.queues (name, options) VALUES (target, target_options) ON CONFLICT DO NOTHING;
  SELECT q.id, q.options->>'order' = 'lifo' INTO target_id, target_lifo FROM ${s}.queues AS q WHERE q.name = target;
  SELECT * INTO back FROM ${s}.unlease(tok, item);
  IF back.queue_id IS NULL THEN RETURN; END IF;
  PERFORM ${s}.put_back(target_id, 0::smallint, now(), item, 0, back.payload, target_lifo);
  PERFORM pg_notify(${s}.wake_channel(target), '');
END $$;

-- The elements of a at the places given (in that order), and the others (in order): a chunk's arrays cut by place.
CREATE FUNCTION ${s}.elements_at(a anyarray, places integer[]) RETURNS anyarray LANGUAGE sql IMMUTABLE AS
$$ SELECT ARRAY(SELECT a[u.i] FROM unnest(places) WITH ORDINALITY AS u(i, o) ORDER BY u.o) $$;
CREATE FUNCTION ${s}.elements_not_at(a anyarray, places integer[]) RETURNS anyarray LANGUAGE sql IMMUTABLE AS
$$ SELECT CASE WHEN a IS NULL THEN NULL ELSE
     ARRAY(SELECT a[i] FROM generate_subscripts(a, 1) AS i WHERE i <> ALL (places) ORDER BY i) END $$;

-- Move up to n waiting items (those of only_ids, when given) of source, ready ones first in serving order, then
-- delayed ones soonest first, to the back of target as fresh ready items (ids kept; priority kept when asked).
CREATE OR REPLACE FUNCTION ${s}.move_items(source text, target text, n bigint, only_ids bigint[],
    keep_priority boolean, target_maxsize integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  source_id integer := (SELECT q.id FROM ${s}.queues AS q WHERE q.name = source);
  target_id integer := (SELECT q.id FROM ${s}.queues AS q WHERE q.name = target);
  room bigint := n;
  moved integer := 0;
  c record;
  picked integer[];
BEGIN
  IF target_maxsize > 0 THEN
    PERFORM ${s}.lock_queue(target_id);
    room := least(room, greatest(0, target_maxsize - ${s}.waiting(target_id)));
  END IF;
  FOR c IN
    SELECT m.ctid AS at, m.priority, m.ids, m.attempts, m.payloads FROM ${s}.chunks AS m
    WHERE m.queue_id = source_id AND (only_ids IS NULL OR m.ids && only_ids)
    ORDER BY m.ready_at > now(), CASE WHEN m.ready_at > now() THEN m.ready_at END, m.priority DESC, m.seq
    FOR UPDATE SKIP LOCKED
  LOOP
    EXIT WHEN room IS NOT NULL AND moved >= room;
    -- The places of the chunk's items to move, in order.
    picked := ARRAY(
      SELECT u.i FROM unnest(c.ids) WITH ORDINALITY AS u(id, i)
      WHERE only_ids IS NULL OR u.id = ANY (only_ids) ORDER BY u.i
      LIMIT CASE WHEN room IS NULL THEN NULL ELSE room - moved END);
    CONTINUE WHEN cardinality(picked) = 0;
    IF cardinality(picked) = cardinality(c.ids) THEN
      DELETE FROM ${s}.chunks AS m WHERE m.ctid = c.at;
    ELSE
      UPDATE ${s}.chunks AS m SET ids = ${s}.elements_not_at(c.ids, picked),
          attempts = ${s}.elements_not_at(c.attempts, picked), payloads = ${s}.elements_not_at(c.payloads, picked)
        WHERE m.ctid = c.at;
    END IF;
    INSERT INTO ${s}.chunks (queue_id, priority, seq, ready_at, ids, payloads)
      VALUES (target_id, CASE WHEN keep_priority THEN c.priority ELSE 0 END, nextval('${s}.serial'), now(),
        ${s}.elements_at(c.ids, picked), ${s}.elements_at(c.payloads, picked));
    moved := moved + cardinality(picked);
  END LOOP;
  IF moved > 0 THEN
    PERFORM pg_notify(${s}.wake_channel(source), '');
    PERFORM pg_notify(${s}.wake_channel(target), '');
  END IF;
  RETURN moved;
END $$;
`,
};

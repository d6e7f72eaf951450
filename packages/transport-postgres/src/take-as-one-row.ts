import type { Migration } from './migrations.js';

// Version 0004: a take answers with one row, not one per item: the lease's token, its ids, counted attempts and the
// length of each payload as arrays, and the payloads laid end to end in one bytea (up to `reply_bytes` of them; a
// larger take answers with a row per item). The client parses one row per take instead of building an object and
// decoding a hex string per item, and the server sends one row. The tables do not change; only `take` and
// `ack_and_take` are replaced (their result, and the `reply_bytes` argument).
export const TAKE_AS_ONE_ROW: Migration = {
  version: '0004-take-as-one-row',
  sql: (s) => `
DROP FUNCTION ${s}.ack_and_take(bigint[], integer[], bigint[], bigint[], integer, text, text, integer, float8, boolean,
  boolean, boolean);
DROP FUNCTION ${s}.take(integer, text, text, integer, float8, boolean, boolean, boolean);

-- reply_bytes bounds the payloads of the one row (its hex text must fit a string on either side): a larger take
-- answers with a row per item instead, read back from the lease row it just wrote.
CREATE FUNCTION ${s}.take(qid integer, channel text, taker text, n integer, lease_ms float8, renew boolean,
    bounded boolean, durable boolean, reply_bytes bigint)
RETURNS TABLE (token bigint, ids bigint[], attempts integer[], lengths integer[], payloads bytea)
LANGUAGE plpgsql AS $$
DECLARE
  tok bigint;
  taken_ids bigint[];
  taken_attempts integer[];
  taken_lengths integer[];
  joined bytea;
BEGIN
  IF NOT durable THEN PERFORM set_config('synchronous_commit', 'off', true); END IF;
  PERFORM ${s}.reap(qid);
  tok := nextval('${s}.serial');
  -- The deleted rows come back in physical order: sorted once into serving order. The aggregates of one SELECT read
  -- the same rows in the same order, so the lease's arrays and the reply's agree item for item.
  WITH held AS (
    DELETE FROM ${s}.items AS it WHERE it.ctid = ANY (ARRAY(
      SELECT w.ctid FROM ${s}.items AS w WHERE w.queue_id = qid AND w.ready_at <= now()
      ORDER BY w.priority DESC, w.seq LIMIT n FOR UPDATE SKIP LOCKED))
    RETURNING it.id, it.attempt + 1 AS attempt, it.payload, it.priority, it.seq),
  ordered AS MATERIALIZED (SELECT * FROM held AS h ORDER BY h.priority DESC, h.seq),
  taking AS MATERIALIZED (
    SELECT array_agg(o.id) AS ids, array_agg(o.priority) AS priorities, array_agg(o.attempt) AS attempts,
      array_agg(o.payload) AS payloads, array_agg(length(o.payload)) AS lengths,
      string_agg(o.payload, ''::bytea)
        FILTER (WHERE (SELECT sum(length(b.payload)) FROM ordered AS b) <= reply_bytes) AS joined
    FROM ordered AS o HAVING count(*) > 0),
  lease AS (
    INSERT INTO ${s}.leases (token, queue_id, owner, lease_until, renewable, ids, priorities, attempts, payloads)
      SELECT tok, qid, taker, now() + lease_ms * interval '1 millisecond', renew, t.ids, t.priorities, t.attempts,
        t.payloads
      FROM taking AS t)
  SELECT t.ids, t.attempts, t.lengths, t.joined INTO taken_ids, taken_attempts, taken_lengths, joined FROM taking AS t;
  IF taken_ids IS NULL THEN RETURN; END IF;
  -- A take makes room on a bounded queue: wake the puts waiting for it.
  IF bounded THEN PERFORM pg_notify(channel, ''); END IF;
  IF joined IS NOT NULL THEN
    RETURN QUERY SELECT tok, taken_ids, taken_attempts, taken_lengths, joined;
    RETURN;
  END IF;
  RETURN QUERY SELECT tok, ARRAY[u.id], ARRAY[u.attempt], ARRAY[length(u.payload)], u.payload
    FROM ${s}.leases AS l, unnest(l.ids, l.attempts, l.payloads) WITH ORDINALITY AS u(id, attempt, payload, k)
    WHERE l.token = tok ORDER BY u.k;
END $$;

CREATE FUNCTION ${s}.ack_and_take(toks bigint[], counts integer[], item_toks bigint[], item_ids bigint[],
    qid integer, channel text, taker text, n integer, lease_ms float8, renew boolean, bounded boolean, durable boolean,
    reply_bytes bigint)
RETURNS TABLE (token bigint, ids bigint[], attempts integer[], lengths integer[], payloads bytea)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM ${s}.ack(toks, counts, item_toks, item_ids, durable);
  RETURN QUERY SELECT * FROM ${s}.take(qid, channel, taker, n, lease_ms, renew, bounded, durable, reply_bytes);
END $$;
`,
};

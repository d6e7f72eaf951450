import {
  type Codec,
  type MoveOptions,
  type PeekedItem,
  QueueNotFoundError,
  type QueueStats,
} from '@taskwire/core';
import { type ResolvedQueueOptions, resolvePeekLimit, undecodableTarget } from '@taskwire/core/transport';
import { consumerLockClass } from './sql.js';
import { purgeItems, type Query } from './store.js';

interface ItemRow {
  id: string;
  payload: Buffer;
  attempt: number;
  priority: number;
  ready_at_ms: number;
  ready: boolean;
}

/**
 * Serving order of the chunks of a queue (`i`): ready ones first, then delayed ones, soonest first (the items of a
 * chunk are in serving order).
 */
const SERVING_ORDER =
  'i.ready_at > now(), CASE WHEN i.ready_at > now() THEN i.ready_at END, i.priority DESC, i.seq';

/**
 * The inspection calls of a connection, each one statement on `<schema>` (stats reads every count in one
 * snapshot). Every one answers `QueueNotFoundError` for a queue that was never declared.
 */
export class Inspector {
  private readonly s: string;

  constructor(
    private readonly query: Query,
    private readonly schema: string,
    private readonly codec: Codec,
  ) {
    this.s = `"${schema}"`;
  }

  async listQueues(): Promise<string[]> {
    const rows = await this.query<{ name: string }>(`SELECT name FROM ${this.s}.queues`);
    return rows.map((row) => row.name).sort();
  }

  async stats(name: string): Promise<QueueStats> {
    const options = await this.options(name);
    const deadLetter = undecodableTarget(name, options.deadLetter);
    const [row] = await this.query<{
      ready: string;
      delayed: string;
      in_flight: string;
      consumers: string;
      dead: string;
    }>(
      `WITH q AS (SELECT id FROM ${this.s}.queues WHERE name = $1)
       SELECT coalesce(sum(cardinality(ids)) FILTER (WHERE ready_at <= now()), 0) AS ready,
              coalesce(sum(cardinality(ids)) FILTER (WHERE ready_at > now()), 0) AS delayed,
              (SELECT coalesce(sum(cardinality(ids) - cardinality(settled)), 0) FROM ${this.s}.leases
                 WHERE queue_id = (SELECT id FROM q)) AS in_flight,
              (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 AND granted
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                 AND classid = $3::bigint::oid) AS consumers,
              ${this.s}.waiting((SELECT id FROM ${this.s}.queues WHERE name = $2)) AS dead
       FROM ${this.s}.chunks WHERE queue_id = (SELECT id FROM q)`,
      [name, deadLetter, consumerLockClass(this.schema, name)],
    );
    return {
      name,
      ready: Number(row!.ready),
      delayed: Number(row!.delayed),
      inFlight: Number(row!.in_flight),
      consumers: Number(row!.consumers),
      deadLetter: { name: deadLetter, size: Number(row!.dead) },
    };
  }

  async peek<T>(name: string, limit: number | undefined): Promise<PeekedItem<T>[]> {
    const count = resolvePeekLimit(limit);
    const options = await this.options(name);
    const rows = await this.query<ItemRow>(
      `SELECT u.id, u.payload, coalesce(u.attempt, 0) AS attempt, i.priority,
              extract(epoch FROM i.ready_at) * 1000 AS ready_at_ms, i.ready_at <= now() AS ready
       FROM (SELECT * FROM ${this.s}.chunks AS i
             WHERE i.queue_id = (SELECT id FROM ${this.s}.queues WHERE name = $1)
             ORDER BY ${SERVING_ORDER} LIMIT $2) AS i,
            unnest(i.ids, i.attempts, i.payloads) WITH ORDINALITY AS u(id, attempt, payload, k)
       ORDER BY ${SERVING_ORDER}, u.k LIMIT $2`,
      [name, count],
    );
    return rows.map((row) => {
      let body: T | Uint8Array;
      try {
        body = this.codec.decode(row.payload) as T;
      } catch {
        body = new Uint8Array(row.payload);
      }
      return {
        id: row.id,
        body,
        attempts: row.attempt,
        state: row.ready ? 'ready' : 'delayed',
        ...(row.ready ? {} : { readyAt: Math.round(Number(row.ready_at_ms)) }),
        ...(options.order === 'priority' ? { priority: row.priority } : {}),
      };
    });
  }

  async moveItems(from: string, to: string, options: MoveOptions = {}): Promise<number> {
    await this.options(from);
    const target = await this.options(to);
    const limit = options.limit ?? null;
    if (limit !== null && (!Number.isInteger(limit) || limit < 0)) {
      throw new RangeError(`moveItems limit must be an integer ≥ 0, got ${limit}`);
    }
    if (limit === 0 || options.ids?.length === 0) return 0;
    const ids = options.ids ? options.ids.filter((id) => /^\d{1,18}$/.test(id)) : null;
    if (ids?.length === 0) return 0;
    const [row] = await this.query<{ n: number }>(
      `SELECT ${this.s}.move_items($1, $2, $3, $4, $5, $6) AS n`,
      [from, to, limit, ids, target.order === 'priority', target.maxsize],
    );
    return row!.n;
  }

  async purgeQueue(name: string): Promise<number> {
    await this.options(name);
    return purgeItems(this.query, this.schema, name);
  }

  /** The stored options of queue `name`. @throws QueueNotFoundError when it was never declared. */
  async options(name: string): Promise<ResolvedQueueOptions> {
    const rows = await this.query<{ options: ResolvedQueueOptions }>(
      `SELECT options FROM ${this.s}.queues WHERE name = $1`,
      [name],
    );
    if (!rows[0]) throw new QueueNotFoundError(`queue "${name}" does not exist`);
    return { ...rows[0].options, deadLetter: rows[0].options.deadLetter };
  }
}

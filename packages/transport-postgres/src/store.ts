import {
  type ItemLease,
  type PolledItem,
  type PollingStore,
  type StorePut,
  type TakeReply,
  TickBatcher,
} from '@taskwire/core/transport';
import { byteaArray, chunkEnds, integerArray, splitTake, type TakeRow } from './wire.js';

/** One taken row: the token tells this take from a later one of the same item, so a late settle is a no-op. */
export interface PostgresItem extends PolledItem {
  readonly token: string;
}

/**
 * Runs one statement on the connection's pool; with `name`, as a prepared statement (parsed and planned once per
 * session). A name must always go with the same text.
 */
export type Query = <R extends object = Record<string, unknown>>(
  text: string,
  values?: unknown[],
  name?: string,
) => Promise<R[]>;

/** What a store knows of its queue and connection. */
export interface StoreContext {
  readonly schema: string;
  readonly queue: string;
  /** The queue's number (`queues.id`): the rows of items and leases name their queue by it. */
  readonly queueId: number;
  /** The queue's NOTIFY channel. */
  readonly channel: string;
  readonly lifo: boolean;
  readonly maxsize: number;
  /** The connection's current owner id: it changes when the connection lost its link, so old leases lapse. */
  owner(): string;
  /**
   * Whether takes and acks wait for their commit to reach the disk. Without, a server crash may forget the last
   * fraction of a second of them: a taken item is served again with its attempt uncounted, an acked one again.
   */
  readonly durableSettles: boolean;
  /** Declare dead-letter queue `name` (with default options) before moving an item there: its options as JSON. */
  readonly deadLetterOptions: string;
}

/**
 * The most payload bytes a take answers with in one row: as hex text that row is twice as long, and must fit in one
 * JavaScript string (at most 2^29 characters) and one PostgreSQL value. A larger take answers with a row per item.
 */
const REPLY_BYTES = 64 * 1024 * 1024;

/** A held item going back, with how. */
interface Release {
  readonly item: PostgresItem;
  readonly delayMs: number;
  readonly countAttempt: boolean;
}

/** An unbounded put waiting for the turn's batch. */
interface PendingPut {
  readonly payloads: readonly Uint8Array[];
  readonly priority: number;
  readonly delayMs: number;
}

/** The acks that ride on a take about to be sent, and their callers waiting for its commit. */
interface RidingAcks {
  readonly items: PostgresItem[];
  readonly waiting: { resolve(): void; reject(error: unknown): void }[];
}

/**
 * One queue's rows in `<schema>.chunks` (waiting items, in chunks) and `<schema>.leases` (one row per take, keeping its items
 * until they are settled). Every operation is one statement (most call a function of the schema, so a bounded put
 * counts and inserts under the queue's lock in the same round trip), and every change that lets a taker or a
 * waiting put go on NOTIFYs the queue's channel, which wakes the other processes.
 */
export class PostgresStore implements PollingStore<PostgresItem> {
  private readonly s: string;
  /**
   * Items given back in one turn go back in one statement: a worker isolating a suspect task gives back everything
   * it prefetched at once, and a round trip each would make that the bottleneck.
   */
  private readonly releases: TickBatcher<Release>;
  /**
   * Puts of one turn to an unbounded queue go in one multi-row INSERT per priority and delay: a worker's results,
   * one put per task, cost one statement per take. (A bounded put needs its own count of what fitted.)
   */
  private readonly puts: TickBatcher<PendingPut>;
  /**
   * Set while a take waits for the end of the turn: acks made meanwhile go with it, in its transaction. A consumer
   * takes again as soon as its deliveries are acked, so its acks and its next take cost one commit, not two.
   */
  private riding: RidingAcks | undefined;
  /** The turn's batch of puts, and what each put of one item in it returns: one promise for all, not one each. */
  private onePut: { readonly sent: Promise<void>; readonly stored: Promise<number> } | undefined;

  constructor(
    private readonly query: Query,
    private readonly ctx: StoreContext,
  ) {
    this.s = `"${ctx.schema}"`;
    this.releases = new TickBatcher<Release>((batch) =>
      this.query(`SELECT ${this.s}.release($1, $2, $3, $4, $5)`, [
        this.ctx.channel,
        batch.map((release) => release.item.token),
        batch.map((release) => release.item.id),
        batch.map((release) => release.delayMs),
        batch.map((release) => (release.countAttempt ? 0 : 1)),
      ]),
    );
    this.puts = new TickBatcher<PendingPut>((batch) => this.insertBatch(batch));
  }

  async take(limit: number, lease: ItemLease): Promise<PostgresItem[] | TakeReply<PostgresItem>> {
    // Another take already gathers this turn's acks: this one goes alone.
    if (this.riding)
      return this.taken(this.query<TakeRow>(this.takeSql, this.takeArgs(limit, lease), 'tw_take'));
    const riding: RidingAcks = { items: [], waiting: [] };
    this.riding = riding;
    // The acks of the deliveries that made room for this take are flushed later in this same turn.
    await new Promise(setImmediate);
    this.riding = undefined;
    const args = this.takeArgs(limit, lease);
    try {
      const items = await this.taken(
        riding.items.length === 0
          ? this.query<TakeRow>(this.takeSql, args, 'tw_take')
          : this.query<TakeRow>(
              `SELECT token::text, ids::text, attempts::text, lengths::text, payloads, next_ms
               FROM ${this.s}.ack_and_take($10, $11, $12, $1, $2, $3, $4, $5, $6, $7, $8, $9)`,
              [...args, ...ackArgs(riding.items)],
              'tw_ack_and_take',
            ),
      );
      for (const waiter of riding.waiting) waiter.resolve();
      return items;
    } catch (error) {
      for (const waiter of riding.waiting) waiter.reject(error);
      throw error;
    }
  }

  /**
   * The items of a take's reply: one row (a row per item when their payloads pass REPLY_BYTES); an empty take's one
   * row says when the next item falls due.
   */
  private async taken(reply: Promise<TakeRow[]>): Promise<PostgresItem[] | TakeReply<PostgresItem>> {
    const rows = await reply;
    if (rows.length === 1) {
      const row = rows[0]!;
      if (row.token === null) {
        const ms = row.next_ms;
        return { items: [], nextReadyAt: ms === null ? undefined : Date.now() + ms };
      }
      return splitTake(row);
    }
    return rows.flatMap(splitTake);
  }

  private takeArgs(limit: number, lease: ItemLease): unknown[] {
    return [
      this.ctx.queueId,
      this.ctx.channel,
      this.ctx.owner(),
      limit,
      lease.ms,
      lease.renewable,
      this.ctx.maxsize > 0,
      this.ctx.durableSettles,
      REPLY_BYTES,
    ];
  }

  private get takeSql(): string {
    return `SELECT token::text, ids::text, attempts::text, lengths::text, payloads, next_ms
      FROM ${this.s}.take($1, $2, $3, $4, $5, $6, $7, $8, $9)`;
  }

  put(payloads: readonly Uint8Array[], { priority, delayMs, maxsize }: StorePut): Promise<number> {
    if (maxsize > 0) return this.insert(payloads, priority, delayMs, maxsize);
    const sent = this.puts.nextFlush();
    this.puts.add({ payloads, priority, delayMs });
    if (payloads.length !== 1) return sent.then(() => payloads.length);
    if (this.onePut?.sent !== sent) this.onePut = { sent, stored: sent.then(() => 1) };
    return this.onePut.stored;
  }

  /** One INSERT per (priority, delay) among the turn's puts, in the order they were made. */
  private async insertBatch(batch: PendingPut[]): Promise<void> {
    const { priority, delayMs } = batch[0]!;
    // Usually every put of the turn goes to the same place (a worker's results): one group, no keys to build.
    if (batch.every((put) => put.priority === priority && put.delayMs === delayMs)) {
      await this.insert(flatten(batch), priority, delayMs, 0);
      return;
    }
    const groups = new Map<string, PendingPut[]>();
    for (const put of batch) {
      const key = `${put.priority}/${put.delayMs}`;
      const group = groups.get(key);
      if (group) group.push(put);
      else groups.set(key, [put]);
    }
    await Promise.all(
      [...groups.values()].map((group) =>
        this.insert(flatten(group), group[0]!.priority, group[0]!.delayMs, 0),
      ),
    );
  }

  private async insert(payloads: readonly Uint8Array[], priority: number, delayMs: number, maxsize: number) {
    const rows = await this.query<{ n: number }>(
      `SELECT ${this.s}.put($1, $2, $3, $4, $5, $6, $7, $8) AS n`,
      [
        this.ctx.queueId,
        this.ctx.channel,
        byteaArray(payloads),
        chunkEnds(payloads),
        priority,
        delayMs,
        maxsize,
        this.ctx.lifo,
      ],
      'tw_put',
    );
    return rows[0]!.n;
  }

  async ack(items: readonly PostgresItem[]): Promise<void> {
    const riding = this.riding;
    if (riding) {
      for (const item of items) riding.items.push(item);
      return new Promise((resolve, reject) => riding.waiting.push({ resolve, reject }));
    }
    await this.query(
      `SELECT ${this.s}.ack($1, $2, $3, $4)`,
      [...ackArgs(items), this.ctx.durableSettles],
      'tw_ack',
    );
  }

  requeue(item: PostgresItem, options: { delayMs: number; countAttempt: boolean }): Promise<void> {
    const sent = this.releases.nextFlush();
    this.releases.add({ item, delayMs: options.delayMs, countAttempt: options.countAttempt });
    return sent;
  }

  async deadLetter(item: PostgresItem, target: string): Promise<void> {
    await this.query(`SELECT ${this.s}.dead_letter($1, $2, $3, $4)`, [
      item.token,
      item.id,
      target,
      this.ctx.deadLetterOptions,
    ]);
  }

  async renew(lease: ItemLease): Promise<void> {
    await this.query(
      `UPDATE ${this.s}.leases SET lease_until = now() + $3 * interval '1 millisecond'
       WHERE queue_id = $1 AND owner = $2 AND renewable`,
      [this.ctx.queueId, this.ctx.owner(), lease.ms],
    );
  }

  async size(): Promise<number> {
    const rows = await this.query<{ n: string }>(`SELECT ${this.s}.waiting($1) AS n`, [this.ctx.queueId]);
    return Number(rows[0]!.n);
  }

  async purge(): Promise<number> {
    return purgeItems(this.query, this.ctx.schema, this.ctx.queue);
  }

  async drop(): Promise<void> {
    await this.query(
      `WITH chunks AS (DELETE FROM ${this.s}.chunks WHERE queue_id = $1),
            leases AS (DELETE FROM ${this.s}.leases WHERE queue_id = $1)
       DELETE FROM ${this.s}.queues WHERE id = $1`,
      [this.ctx.queueId],
    );
  }
}

/** Delete the ready and delayed items of `queue` and wake the puts waiting for room; resolve with how many. */
export async function purgeItems(query: Query, schema: string, queue: string): Promise<number> {
  const rows = await query<{ n: string }>(
    `WITH gone AS (
       DELETE FROM "${schema}".chunks WHERE queue_id = (SELECT id FROM "${schema}".queues WHERE name = $1)
       RETURNING cardinality(ids) AS k)
     SELECT coalesce(sum(k), 0) AS n, pg_notify("${schema}".wake_channel($1), '') FROM gone`,
    [queue],
  );
  return Number(rows[0]!.n);
}

/**
 * The arguments of the schema's `ack`, as array literals: the leases (distinct tokens, in the order first met), how
 * many items of each, and the items' ids grouped by lease in that order. Acks usually come a take at a time, so the
 * group is found by comparing with the previous item's token.
 */
function ackArgs(items: readonly PostgresItem[]): [string, string, string] {
  const groups = new Map<string, string[]>();
  let token: string | undefined;
  let ids: string[] = [];
  for (const item of items) {
    if (item.token !== token) {
      token = item.token;
      const known = groups.get(token);
      ids = known ?? [];
      if (!known) groups.set(token, ids);
    }
    ids.push(item.id);
  }
  const lists = [...groups.values()];
  return [
    integerArray([...groups.keys()]),
    `{${lists.map((ids) => ids.length).join(',')}}`,
    // Each group joined on its own: Array.prototype.flat cost ~16 µs per 250 ids, five times the rest.
    `{${lists.map((ids) => ids.join(',')).join(',')}}`,
  ];
}

/** The payloads of `puts`, in order. */
function flatten(puts: readonly PendingPut[]): readonly Uint8Array[] {
  if (puts.length === 1) return puts[0]!.payloads;
  const payloads: Uint8Array[] = [];
  for (const put of puts) for (const payload of put.payloads) payloads.push(payload);
  return payloads;
}

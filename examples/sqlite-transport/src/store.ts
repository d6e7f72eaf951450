import type Database from 'better-sqlite3';

/** One stored item as a take returns it. */
export interface HeldItem {
  rowid: number;
  id: string;
  attempt: number;
  payload: Buffer;
  token: number;
}

/** How a queue serves: by priority, then by `seq` ascending (FIFO) or descending (LIFO). */
export interface Order {
  queue: string;
  lifo: boolean;
}

/** The SQL of the items table, as one statement per operation. Every method is synchronous (better-sqlite3). */
export class ItemStore {
  private readonly statements;

  constructor(private readonly db: Database.Database) {
    const ready = 'FROM taskwire_items WHERE queue = ? AND owner IS NULL';
    const serve = (direction: string) =>
      db.prepare(
        `SELECT rowid, id, attempt, payload ${ready} AND ready_at <= ? ORDER BY priority DESC, seq ${direction} LIMIT ?`,
      );
    this.statements = {
      bump: db.prepare('UPDATE taskwire_counter SET n = n + ? WHERE id = 1 RETURNING n'),
      insert: db.prepare(
        'INSERT INTO taskwire_items (queue, id, seq, priority, ready_at, attempt, payload) VALUES (?, ?, ?, ?, ?, 0, ?)',
      ),
      fifo: serve('ASC'),
      lifo: serve('DESC'),
      hold: db.prepare(
        'UPDATE taskwire_items SET owner = ?, token = ?, attempt = attempt + 1, lease_until = ?, renewable = ? WHERE rowid = ?',
      ),
      due: db.prepare(
        'SELECT 1 FROM taskwire_items WHERE queue = ? AND ((owner IS NULL AND ready_at <= ?) OR lease_until <= ?) LIMIT 1',
      ),
      expired: db.prepare(
        'SELECT rowid FROM taskwire_items WHERE queue = ? AND owner IS NOT NULL AND lease_until <= ?',
      ),
      release: db.prepare(
        'UPDATE taskwire_items SET owner = NULL, token = NULL, lease_until = NULL, seq = ?, ready_at = ?, attempt = attempt - ? WHERE rowid = ?',
      ),
      releaseHeld: db.prepare(
        'UPDATE taskwire_items SET owner = NULL, token = NULL, lease_until = NULL, seq = ?, ready_at = ?, attempt = attempt - ? WHERE rowid = ? AND token = ?',
      ),
      move: db.prepare(
        'UPDATE taskwire_items SET queue = ?, owner = NULL, token = NULL, lease_until = NULL, seq = ?, ready_at = 0, attempt = 0 WHERE rowid = ? AND token = ?',
      ),
      ack: db.prepare('DELETE FROM taskwire_items WHERE rowid = ? AND token = ?'),
      owned: db.prepare('SELECT rowid, queue FROM taskwire_items WHERE owner = ?'),
      renew: db.prepare('UPDATE taskwire_items SET lease_until = ? WHERE owner = ? AND renewable = 1'),
      count: db.prepare(`SELECT count(*) AS n ${ready}`),
      nextReady: db.prepare(`SELECT min(ready_at) AS at ${ready}`),
      purge: db.prepare('DELETE FROM taskwire_items WHERE queue = ? AND owner IS NULL'),
      drop: db.prepare('DELETE FROM taskwire_items WHERE queue = ?'),
      forget: db.prepare('DELETE FROM taskwire_queues WHERE name = ?'),
      lifoOf: db.prepare(
        "SELECT json_extract(options, '$.order') = 'lifo' AS lifo FROM taskwire_queues WHERE name = ?",
      ),
    };
  }

  /** Run `work` in one write transaction (taken at once, so two processes never both read then write). */
  transaction<R>(work: () => R): R {
    return this.db.transaction(work).immediate();
  }

  /** Store `payloads` at the serving end of `order`. */
  insert(order: Order, ids: string[], payloads: Uint8Array[], priority: number, readyAt: number): void {
    const last = this.bump(payloads.length);
    for (let i = 0; i < payloads.length; i++) {
      const seq = last - payloads.length + 1 + i;
      this.statements.insert.run(order.queue, ids[i], seq, priority, readyAt, payloads[i]);
    }
  }

  /** Whether a take would find anything: a read, which never waits for another process's write lock. */
  hasDue(queue: string, now: number): boolean {
    return this.statements.due.get(queue, now, now) !== undefined;
  }

  /** Hold up to `limit` ready items for `owner` until `leaseUntil`. Call inside {@link transaction}. */
  take(
    order: Order,
    owner: string,
    limit: number,
    now: number,
    leaseUntil: number,
    renewable: boolean,
  ): HeldItem[] {
    this.returnExpired(order, now);
    const rows = (order.lifo ? this.statements.lifo : this.statements.fifo).all(
      order.queue,
      now,
      limit,
    ) as Omit<HeldItem, 'token'>[];
    const first = this.bump(rows.length) - rows.length + 1;
    return rows.map((row, i) => {
      const token = first + i;
      this.statements.hold.run(owner, token, leaseUntil, renewable ? 1 : 0, row.rowid);
      return { ...row, attempt: row.attempt + 1, token };
    });
  }

  /** Remove a held item for good; false when the holder's delivery is no longer the current one. */
  ack(rowid: number, token: number): boolean {
    return this.statements.ack.run(rowid, token).changes > 0;
  }

  /** Give a held item back behind the waiting ones. `uncount` takes back the attempt its delivery spent. */
  requeue(order: Order, rowid: number, token: number, readyAt: number, uncount: boolean): boolean {
    return (
      this.statements.releaseHeld.run(this.returnSeq(order), readyAt, uncount ? 1 : 0, rowid, token).changes >
      0
    );
  }

  /** Move a held item to `target`'s queue (a dead-letter queue), as a fresh item. */
  moveTo(target: Order, rowid: number, token: number): boolean {
    return this.statements.move.run(target.queue, this.bump(1), rowid, token).changes > 0;
  }

  /** Give back every item `owner` holds (its connection is closing); each keeps the attempt it spent. */
  releaseOwner(owner: string, now: number): void {
    for (const row of this.statements.owned.all(owner) as { rowid: number; queue: string }[]) {
      this.statements.release.run(this.returnSeq(this.orderOf(row.queue)), now, 0, row.rowid);
    }
  }

  /** Extend the connection lease of every item `owner` holds on queues without a visibility timeout. */
  renew(owner: string, leaseUntil: number): void {
    this.statements.renew.run(leaseUntil, owner);
  }

  /** Ready and delayed items of a queue. */
  count(queue: string): number {
    return (this.statements.count.get(queue) as { n: number }).n;
  }

  /** When the next waiting item of a queue becomes ready, if any waits. */
  nextReadyAt(queue: string): number | undefined {
    return (this.statements.nextReady.get(queue) as { at: number | null }).at ?? undefined;
  }

  purge(queue: string): number {
    return this.statements.purge.run(queue).changes;
  }

  /** Remove a queue: its items and its declaration. */
  drop(queue: string): void {
    this.transaction(() => {
      this.statements.drop.run(queue);
      this.statements.forget.run(queue);
    });
  }

  private returnExpired(order: Order, now: number): void {
    for (const { rowid } of this.statements.expired.all(order.queue, now) as { rowid: number }[]) {
      this.statements.release.run(this.returnSeq(order), now, 0, rowid);
    }
  }

  private orderOf(queue: string): Order {
    const row = this.statements.lifoOf.get(queue) as { lifo: number } | undefined;
    return { queue, lifo: row?.lifo === 1 };
  }

  /** A returned item's place: after every waiting item (FIFO), or below every one (LIFO). */
  private returnSeq(order: Order): number {
    const n = this.bump(1);
    return order.lifo ? -n : n;
  }

  private bump(count: number): number {
    return (this.statements.bump.get(count) as { n: number }).n;
  }
}

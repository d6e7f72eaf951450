import { randomUUID } from 'node:crypto';
import type { ItemLease, PolledItem, PollingStore, StorePut } from '@taskwire/core/transport';
import type Database from 'better-sqlite3';

/** One taken row: the token tells this take from a later one of the same item, so a late settle is a no-op. */
export interface SqliteItem extends PolledItem {
  readonly rowid: number;
  readonly token: number;
}

const READY = 'FROM taskwire_items WHERE queue = ? AND owner IS NULL';
const SERVE = `SELECT rowid, id, attempt, payload ${READY} AND ready_at <= ? ORDER BY priority DESC, seq`;
const SETTLED = 'owner = NULL, token = NULL, lease_until = NULL';

/** The SQL of the items and queues tables, one statement per operation. */
const SQL = {
  bump: 'UPDATE taskwire_counter SET n = n + ? WHERE id = 1 RETURNING n',
  insert:
    'INSERT INTO taskwire_items (queue, id, seq, priority, ready_at, attempt, payload) VALUES (?, ?, ?, ?, ?, 0, ?)',
  fifo: `${SERVE} ASC LIMIT ?`,
  lifo: `${SERVE} DESC LIMIT ?`,
  hold: 'UPDATE taskwire_items SET owner = ?, token = ?, attempt = attempt + 1, lease_until = ?, renewable = ? WHERE rowid = ?',
  due: 'SELECT 1 FROM taskwire_items WHERE queue = ? AND ((owner IS NULL AND ready_at <= ?) OR lease_until <= ?) LIMIT 1',
  expired:
    'SELECT rowid, token FROM taskwire_items WHERE queue = ? AND owner IS NOT NULL AND lease_until <= ?',
  release: `UPDATE taskwire_items SET ${SETTLED}, seq = ?, ready_at = ?, attempt = attempt - ? WHERE rowid = ? AND token = ?`,
  move: `UPDATE taskwire_items SET ${SETTLED}, queue = ?, seq = ?, ready_at = 0, attempt = 0 WHERE rowid = ? AND token = ?`,
  ack: 'DELETE FROM taskwire_items WHERE rowid = ? AND token = ?',
  renew: 'UPDATE taskwire_items SET lease_until = ? WHERE owner = ? AND queue = ? AND renewable = 1',
  count: `SELECT count(*) AS n ${READY}`,
  nextReady: `SELECT min(ready_at) AS at ${READY}`,
  purge: 'DELETE FROM taskwire_items WHERE queue = ? AND owner IS NULL',
  drop: 'DELETE FROM taskwire_items WHERE queue = ?',
  forget: 'DELETE FROM taskwire_queues WHERE name = ?',
  declared: 'SELECT options FROM taskwire_queues WHERE name = ?',
  declare: 'INSERT OR IGNORE INTO taskwire_queues (name, options) VALUES (?, ?)',
};
export type Statements = Record<keyof typeof SQL, Database.Statement>;

/** Prepare every statement once per connection. */
export function prepareStatements(db: Database.Database): Statements {
  return Object.fromEntries(Object.entries(SQL).map(([name, sql]) => [name, db.prepare(sql)])) as Statements;
}

/**
 * One queue's rows, held for `owner` (a connection) while it lives. Every method is synchronous (better-sqlite3);
 * writes run in immediate transactions, so two processes never both read and then write.
 */
export class SqliteStore implements PollingStore<SqliteItem> {
  constructor(
    private readonly db: Database.Database,
    private readonly sql: Statements,
    private readonly queue: string,
    private readonly lifo: boolean,
    private readonly owner: string,
    /** Declare a dead-letter queue before moving rows there. */
    private readonly declare: (name: string) => void,
  ) {}

  take(limit: number, lease: ItemLease): SqliteItem[] {
    const now = Date.now();
    // A read first: an idle poll never waits for another process's write lock.
    if (this.sql.due.get(this.queue, now, now) === undefined) return [];
    return this.write(() => {
      for (const row of this.sql.expired.all(this.queue, now) as { rowid: number; token: number }[]) {
        this.sql.release.run(this.returnSeq(), now, 0, row.rowid, row.token);
      }
      const rows = (this.lifo ? this.sql.lifo : this.sql.fifo).all(this.queue, now, limit) as SqliteItem[];
      const first = this.bump(rows.length) - rows.length + 1;
      return rows.map((row, i) => {
        this.sql.hold.run(this.owner, first + i, now + lease.ms, lease.renewable ? 1 : 0, row.rowid);
        return { ...row, attempt: row.attempt + 1, token: first + i };
      });
    });
  }

  put(payloads: readonly Uint8Array[], { priority, delayMs, maxsize }: StorePut): number {
    return this.write(() => {
      const n = maxsize ? Math.min(payloads.length, Math.max(0, maxsize - this.size())) : payloads.length;
      const last = this.bump(n);
      const readyAt = Date.now() + delayMs;
      for (let i = 0; i < n; i++) {
        this.sql.insert.run(this.queue, randomUUID(), last - n + 1 + i, priority, readyAt, payloads[i]);
      }
      return n;
    });
  }

  ack(items: readonly SqliteItem[]): void {
    this.write(() => {
      for (const item of items) this.sql.ack.run(item.rowid, item.token);
    });
  }

  requeue(item: SqliteItem, options: { delayMs: number; countAttempt: boolean }): void {
    const readyAt = Date.now() + options.delayMs;
    this.write(() =>
      this.sql.release.run(this.returnSeq(), readyAt, options.countAttempt ? 0 : 1, item.rowid, item.token),
    );
  }

  deadLetter(item: SqliteItem, target: string): void {
    this.declare(target);
    this.write(() => this.sql.move.run(target, this.bump(1), item.rowid, item.token));
  }

  renew(lease: ItemLease): void {
    this.sql.renew.run(Date.now() + lease.ms, this.owner, this.queue);
  }

  nextReadyAt(): number | undefined {
    return (this.sql.nextReady.get(this.queue) as { at: number | null }).at ?? undefined;
  }

  size(): number {
    return (this.sql.count.get(this.queue) as { n: number }).n;
  }

  purge(): number {
    return this.sql.purge.run(this.queue).changes;
  }

  drop(): void {
    this.write(() => {
      this.sql.drop.run(this.queue);
      this.sql.forget.run(this.queue);
    });
  }

  private write<R>(work: () => R): R {
    return this.db.transaction(work).immediate();
  }

  /** A returned item's place: after every waiting item (FIFO), or below every one (LIFO). */
  private returnSeq(): number {
    const n = this.bump(1);
    return this.lifo ? -n : n;
  }

  private bump(count: number): number {
    return (this.sql.bump.get(count) as { n: number }).n;
  }
}

import type {
  InspectedItem,
  InspectionStore,
  ResolvedQueueOptions,
  StoreMove,
} from '@taskwire/core/transport';
import type Database from 'better-sqlite3';
import type { Statements } from './store.js';

type Row = InspectedItem & { readonly rowid: number };

/** Items not held: the ready ones in serving order (`seq` flipped in a LIFO), then the delayed ones, soonest first. */
const IDLE_IN_ORDER = (lifo: boolean) =>
  `SELECT rowid, id, payload, attempt AS attempts, ready_at AS readyAt, priority FROM taskwire_items
   WHERE queue = @queue AND owner IS NULL
   ORDER BY ready_at > @now, iif(ready_at > @now, ready_at, 0), priority DESC, seq ${lifo ? 'DESC' : 'ASC'}
   LIMIT @limit`;
const COUNTS = `SELECT count(*) FILTER (WHERE owner IS NULL AND ready_at <= @now) AS ready,
  count(*) FILTER (WHERE owner IS NULL AND ready_at > @now) AS delayed, count(owner) AS inFlight
  FROM taskwire_items WHERE queue = @queue`;
const MOVE =
  'UPDATE taskwire_items SET queue = ?, seq = ?, priority = ?, ready_at = 0, attempt = 0 WHERE rowid = ?';

/** Inspection over every queue of the file, for the kit's `StoreInspection`. */
export class SqliteInspection implements InspectionStore {
  constructor(
    private readonly db: Database.Database,
    private readonly sql: Statements,
  ) {}

  queueNames(): string[] {
    return this.db.prepare('SELECT name FROM taskwire_queues').pluck().all() as string[];
  }

  declared(name: string): ResolvedQueueOptions | undefined {
    const row = this.sql.declared.get(name) as { options: string } | undefined;
    return row && { deadLetter: undefined, ...JSON.parse(row.options) };
  }

  counts(queue: string, now: number): { ready: number; delayed: number; inFlight: number } {
    return this.db.prepare(COUNTS).get({ queue, now }) as {
      ready: number;
      delayed: number;
      inFlight: number;
    };
  }

  items(queue: string, limit: number, now: number): Row[] {
    const lifo = this.declared(queue)?.order === 'lifo';
    return this.db.prepare(IDLE_IN_ORDER(lifo)).all({ queue, now, limit }) as Row[];
  }

  move(from: string, to: string, { max, ids, maxsize, keepPriority }: StoreMove): number {
    return this.db
      .transaction(() => {
        const room = maxsize ? Math.max(0, maxsize - (this.sql.count.get(to) as { n: number }).n) : Infinity;
        const most = Math.min(max, room);
        // With ids, every idle item is a candidate; SQLite reads LIMIT -1 as no limit.
        const scan = ids || most === Infinity ? -1 : most;
        const rows = this.items(from, scan, Date.now())
          .filter((row) => !ids || ids.has(row.id))
          .slice(0, most);
        const last = (this.sql.bump.get(rows.length) as { n: number }).n;
        const move = this.db.prepare(MOVE);
        rows.forEach((row, i) => {
          move.run(to, last - rows.length + 1 + i, keepPriority ? row.priority : 0, row.rowid);
        });
        return rows.length;
      })
      .immediate();
  }

  purge(queue: string): number {
    return this.sql.purge.run(queue).changes;
  }
}

import type Database from 'better-sqlite3';

// One file holds every queue. An item is ready or delayed while `owner` is NULL, and held by a delivery while
// `owner` names a connection; `token` tells that delivery from a later one of the same item, so a late ack is a
// no-op. `seq` is the serving order: a returned item gets a fresh one, which puts it behind the waiting items
// (negative in a LIFO, where the bottom is served last). A held item returns when `lease_until` passes: its
// visibility timeout, or, on queues without one (`renewable`), the holding connection's lease, which that
// connection's heartbeat keeps renewing while it lives.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS taskwire_queues (name TEXT PRIMARY KEY, options TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS taskwire_counter (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
INSERT OR IGNORE INTO taskwire_counter (id, n) VALUES (1, 0);
CREATE TABLE IF NOT EXISTS taskwire_items (
  queue TEXT NOT NULL,
  id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  priority INTEGER NOT NULL,
  ready_at REAL NOT NULL,
  attempt INTEGER NOT NULL,
  payload BLOB NOT NULL,
  owner TEXT,
  token INTEGER,
  lease_until REAL,
  renewable INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS taskwire_items_ready ON taskwire_items (queue, owner, priority DESC, seq);
CREATE INDEX IF NOT EXISTS taskwire_items_held ON taskwire_items (owner, lease_until);
`;

/** Open the tables (idempotent) with settings that let several processes share the file. */
export function prepareDatabase(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.exec(SCHEMA);
}

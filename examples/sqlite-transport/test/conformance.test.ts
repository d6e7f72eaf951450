import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runConformanceSuite } from '@taskwire/conformance';
import type { Connection, ConnectOptions } from '@taskwire/core';
import Database from 'better-sqlite3';
import { afterAll } from 'vitest';
import type { SqliteConnection } from '../src/connection.js';
import createSqliteTransport from '../src/index.js';
import { prepareDatabase } from '../src/schema.js';
import { prepareStatements, SqliteStore } from '../src/store.js';

const dir = mkdtempSync(join(tmpdir(), 'taskwire-sqlite-'));
const file = join(dir, 'conformance.db');
const transport = createSqliteTransport({ leaseMs: 600, pollMs: 10 });
const connect = (options?: ConnectOptions) => transport.connect({ url: `sqlite://${file}`, ...options });

// A second handle on the file, behind the transport's back, to plant undecodable payloads.
const raw = new Database(file);
prepareDatabase(raw);
const statements = prepareStatements(raw);
afterAll(() => {
  raw.close();
  rmSync(dir, { recursive: true, force: true });
});

// The backend is a file: a "restart" is every process holding it dying at once, and new ones opening it.
const restartable = new Set<Connection>();

runConformanceSuite({
  name: 'sqlite',
  connect,
  capabilities: transport.capabilities,
  rawPut: async (queue, bytes) => {
    new SqliteStore(raw, statements, queue, false, 'raw', () => undefined).put([bytes], {
      priority: 0,
      delayMs: 0,
      maxsize: 0,
    });
  },
  faults: {
    breakConnection: (connection) => (connection as SqliteConnection).abandon(),
    reconnects: false,
    recoveryMs: 1500, // leaseMs + a poll + slack
    restartBackend: async () => {
      for (const connection of restartable) (connection as SqliteConnection).abandon();
      restartable.clear();
    },
    connectRestartable: async (options) => {
      const connection = await connect(options);
      restartable.add(connection);
      return connection;
    },
  },
});

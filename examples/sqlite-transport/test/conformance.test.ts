import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runConformanceSuite } from '@taskwire/conformance';
import { afterAll } from 'vitest';
import createSqliteTransport from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'taskwire-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const transport = createSqliteTransport({ leaseMs: 600, pollMs: 10 });

runConformanceSuite({
  name: 'sqlite',
  connect: (options) => transport.connect({ url: `sqlite://${join(dir, 'conformance.db')}`, ...options }),
  capabilities: transport.capabilities,
});

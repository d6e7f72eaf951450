import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, uniqueName } from './helpers.js';

/** How the e2e scenarios reach one transport. */
export interface Backend {
  name: string;
  /** Flags for the master (before the scenario's own). */
  masterArgs: string[];
  /** Flags for each worker. */
  workerArgs: string[];
  /** Text the master prints once workers can connect (TCP manager), if any. */
  readyLine?: RegExp;
  /** The run's task queue name on a broker. */
  queue?: string;
  /** Remove whatever the run left on the broker. */
  cleanup(): Promise<void>;
}

/** The embedded TCP manager on a free port with a random authkey. */
export async function tcpBackend(): Promise<Backend> {
  const port = await freePort();
  const authkey = randomBytes(16).toString('hex');
  return {
    name: 'tcp',
    masterArgs: ['--port', String(port), '--authkey', authkey],
    workerArgs: ['--url', `tcp://127.0.0.1:${port}`, '--authkey', authkey],
    readyLine: /serving tcp:\/\//,
    cleanup: async () => undefined,
  };
}

/** A broker-backed transport with a unique queue name for this run. */
export function brokerBackend(
  name: string,
  url: string,
  cleanup: (queue: string) => Promise<void>,
  prefix?: string,
): Backend {
  const queue = uniqueName(name, prefix);
  const common = ['--transport', name, '--url', url, '--queue', queue];
  return { name, masterArgs: common, workerArgs: common, queue, cleanup: () => cleanup(queue) };
}

/**
 * A third-party transport loaded by `spec` (a file path or package name) that wraps the TCP
 * manager: the master hosts it on a free port, workers reach it with the same flags.
 */
export async function customTransportBackend(spec: string): Promise<Backend> {
  const port = await freePort();
  const common = [
    '--transport',
    spec,
    '--url',
    `tcp://127.0.0.1:${port}`,
    '--authkey',
    randomBytes(16).toString('hex'),
  ];
  return {
    name: spec,
    masterArgs: common,
    workerArgs: common,
    readyLine: /serving tcp:\/\//,
    cleanup: async () => undefined,
  };
}

/**
 * The example SQLite transport, loaded by package name (a devDependency of both CLIs, as a user would install
 * it next to them): master and workers share one database file in a fresh directory; a killed worker's items
 * come back after a 1 s lease.
 */
export function sqliteBackend(): Backend {
  const dir = mkdtempSync(join(tmpdir(), 'taskwire-e2e-sqlite-'));
  const common = [
    '--transport',
    'taskwire-transport-sqlite',
    '--url',
    `sqlite://${join(dir, 'queues.db')}?leaseMs=1000`,
  ];
  return {
    name: 'sqlite',
    masterArgs: common,
    workerArgs: common,
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

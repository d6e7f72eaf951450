import { afterEach } from 'vitest';
import { type Connection, createMemoryTransport, Worker, type WorkerOptions } from '../src/index.js';
import { memoryEngine } from '../src/subpath/engine.js';

/**
 * Masters and workers on a fresh memory engine per test (connections to it share queues, like processes on one
 * broker). Workers started through it are stopped and connections closed after each test.
 */
export function taskHarness(label: string) {
  const transport = createMemoryTransport();
  let engineCounter = 0;
  const open: Connection[] = [];
  const stoppers: (() => Promise<void>)[] = [];

  afterEach(async () => {
    for (const stop of stoppers.splice(0)) await stop();
    for (const connection of open.splice(0)) await connection.close();
  });

  return {
    /** A fresh engine: `connect()` opens connections to it, `engine` inspects it. */
    async backend() {
      const name = `${label}-${++engineCounter}`;
      const url = `memory://${name}`;
      const connect = async (options: { maxPayloadBytes?: number } = {}) => {
        const connection = await transport.connect({ url, ...options });
        open.push(connection);
        return connection;
      };
      return { connect, url, engine: memoryEngine(name) };
    },
    /** A worker squaring numbers unless `options` say otherwise, stopped after the test. */
    async startWorker(connection: Connection, options: Partial<WorkerOptions>) {
      const worker = await Worker.start({ connection, handler: (n: number) => n * n, ...options });
      stoppers.push(() => worker.stop());
      return worker;
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

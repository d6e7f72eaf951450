import { Master } from '@taskwire/core';
import { serve, type TcpServer } from '@taskwire/transport-tcp';
import { afterEach, describe, expect, it } from 'vitest';
import {
  exitWithin,
  killAfterEach,
  MASTER_CLI,
  type Running,
  start,
  WORKER_CLI,
  waitFor,
} from './helpers.js';

// A TCP manager the test hosts in process, restarted on the same port with another authkey while a real CLI is
// connected to it: the CLI's reconnect is refused for good, and it must say so and exit, never sit there silent.
const tracked = killAfterEach();
const servers: TcpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function manager(port: number, authkey: string): Promise<TcpServer> {
  const server = await serve({ host: '127.0.0.1', port, authkey });
  servers.push(server);
  return server;
}

/** Restart the manager on its port with `authkey` (once the CLI connected to it is at work). */
async function restartWithAnotherKey(server: TcpServer, authkey: string): Promise<void> {
  const { port } = server.address;
  await server.close();
  servers.splice(servers.indexOf(server), 1);
  await manager(port, authkey);
}

/** The CLI's stderr lines that are not the usual start-up chatter. */
const errorLines = (cli: Running) =>
  cli
    .stderr()
    .split('\n')
    .filter((line) => line.includes('error'));

describe('a CLI whose TCP manager comes back with another authkey', () => {
  for (const idleExit of [false, true]) {
    it(`the worker exits 2 with one line naming the refused authkey${idleExit ? ' (with --idle-exit)' : ''}`, async () => {
      const first = await manager(0, 'key-a');
      const url = `tcp://127.0.0.1:${first.address.port}`;
      const worker = tracked(
        start(WORKER_CLI, ['--url', url, ...(idleExit ? ['--idle-exit', '600'] : [])], {
          TASKWIRE_AUTHKEY: 'key-a',
        }),
      );
      // One task through the worker: it is connected and consuming.
      const local = await first.connect();
      const master = await Master.start({ connection: local });
      expect((await master.submit(3)).value).toBe(9);
      await master.close();
      await restartWithAnotherKey(first, 'key-b');

      const { code } = await exitWithin(worker, 20_000, 'the worker');
      expect(code).toBe(2);
      expect(errorLines(worker)).toEqual([`taskwire-worker: error: authkey rejected by ${url}`]);
    });
  }

  it('a master connected to a standalone manager exits 2 with one line naming the refused authkey', async () => {
    const first = await manager(0, 'key-a');
    const url = `tcp://127.0.0.1:${first.address.port}`;
    const master = tracked(
      start(MASTER_CLI, ['--url', url, '--no-serve', '--tasks', '5'], { TASKWIRE_AUTHKEY: 'key-a' }),
    );
    // Its five tasks are queued: it is connected and waiting for their results.
    await waitFor(
      () => first.engine.queueNames().includes('tasks') && first.engine.queue('tasks').size === 5,
      15_000,
      `the master's tasks (stderr: ${master.stderr()})`,
    );
    await restartWithAnotherKey(first, 'key-b');

    const { code } = await exitWithin(master, 20_000, 'the master');
    expect(code).toBe(2);
    expect(errorLines(master)).toEqual([`taskwire-master: error: authkey rejected by ${url}`]);
  });
});

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Backend, tcpBackend } from './backends.js';
import { exitWithin, inputFile, killAfterEach, MASTER_CLI, start, WORKER_CLI, waitFor } from './helpers.js';

const LOGGED_HANDLER = new URL('./fixtures/logged-square.mjs', import.meta.url).pathname;
const track = killAfterEach();

/** Process ids whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when there is none
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Lines of the handler's run log (tasks that ran). */
function runs(log: string): number {
  try {
    return readFileSync(log, 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}

/** What a backend leaves of a queue on its broker (names), or nothing to check. */
type Leftovers = ((queue: string) => Promise<string[]>) | undefined;

const EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

/** A master running a 3,000-task job with 2 local workers, signalled mid-job. */
async function localJob(backend: Backend) {
  const { dir, input, output } = inputFile(3000);
  const log = join(dir, 'runs.log');
  writeFileSync(log, '');
  const master = track(
    start(
      MASTER_CLI,
      [
        ...backend.masterArgs,
        '--workers',
        '2',
        '--concurrency',
        '4',
        '--handler',
        LOGGED_HANDLER,
        '--input',
        input,
        '--output',
        output,
      ],
      { RUN_LOG: log },
    ),
  );
  await waitFor(() => runs(log) >= 50, 30_000, '50 tasks to run');
  return { master, log };
}

function stoppingScenarios(makeBackend: () => Promise<Backend>, leftovers: Leftovers, children: boolean) {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} mid-job: exit ${EXIT_CODES[signal]} with a summary, no child left, nothing left behind, no task runs afterwards`, async () => {
      const backend = await makeBackend();
      try {
        const { master, log } = await localJob(backend);
        const pids = childrenOf(master.child.pid!);
        expect(pids.length).toBe(children ? 2 : 0);
        master.child.kill(signal);
        const { code } = await exitWithin(master, 20_000, 'the master');
        expect(code, master.stderr()).toBe(EXIT_CODES[signal]);
        expect(master.stderr()).toMatch(/done \d+, failed \d+/);
        expect(master.stderr()).not.toMatch(/^\s+at /m);
        for (const pid of pids) expect(isAlive(pid), `worker ${pid}`).toBe(false);
        if (leftovers) expect(await leftovers(backend.queue!)).toEqual([]);
        const ranAtExit = runs(log);
        expect(ranAtExit).toBeLessThan(3000);
        if (backend.queue) {
          // A worker that starts afterwards on the same queue runs nothing of the gone master's.
          const late = track(
            start(WORKER_CLI, [...backend.workerArgs, '--handler', LOGGED_HANDLER, '--idle-exit', '1.5'], {
              RUN_LOG: log,
            }),
          );
          expect((await exitWithin(late, 20_000, 'the late worker')).code, late.stderr()).toBe(0);
        } else {
          await sleep(1000);
        }
        expect(runs(log)).toBe(ranAtExit);
      } finally {
        await backend.cleanup();
      }
    }, 60_000);
  }
}

/** SIGKILL leaves the master no chance to stop its workers: they must notice by themselves. */
function hardKillScenario(makeBackend: () => Promise<Backend>) {
  it('SIGKILL of the master: its local workers notice and exit', async () => {
    const backend = await makeBackend();
    try {
      const { master } = await localJob(backend);
      const pids = childrenOf(master.child.pid!);
      expect(pids).toHaveLength(2);
      master.child.kill('SIGKILL');
      await waitFor(() => pids.every((pid) => !isAlive(pid)), 5000, 'the local workers to exit');
    } finally {
      await backend.cleanup();
    }
  }, 60_000);
}

/** A master without local workers on a shared queue, one worker of its own running. */
function departureScenario(
  makeBackend: () => Promise<Backend>,
  leftovers: (queue: string) => Promise<string[]>,
) {
  it('SIGTERM: a running worker drops the gone master’s tasks without running them or answering', async () => {
    const backend = await makeBackend();
    try {
      const { dir, input, output } = inputFile(3000);
      const log = join(dir, 'runs.log');
      writeFileSync(log, '');
      const master = track(start(MASTER_CLI, [...backend.masterArgs, '--input', input, '--output', output]));
      const worker = track(
        start(
          WORKER_CLI,
          [...backend.workerArgs, '--handler', LOGGED_HANDLER, '--concurrency', '2', '--prefetch', '2'],
          {
            RUN_LOG: log,
          },
        ),
      );
      await waitFor(() => runs(log) >= 30, 30_000, '30 tasks to run');
      master.child.kill('SIGTERM');
      const { code } = await exitWithin(master, 20_000, 'the master');
      expect(code, master.stderr()).toBe(143);
      const ranAtExit = runs(log);
      await sleep(2000);
      // Tasks already running finish; no other task of the gone master runs.
      expect(runs(log)).toBeLessThanOrEqual(ranAtExit + 2);
      const left = await leftovers(backend.queue!);
      expect(left.filter((name) => name.includes('.results.'))).toEqual([]);
      worker.child.kill('SIGTERM');
      expect((await exitWithin(worker, 20_000, 'the worker')).code).toBe(0);
    } finally {
      await backend.cleanup();
    }
  }, 60_000);
}

describe('stopping the master on memory://', () => {
  stoppingScenarios(
    async () => ({
      name: 'memory',
      masterArgs: ['--transport', 'memory'],
      workerArgs: [],
      cleanup: async () => undefined,
    }),
    undefined,
    false,
  );
});

describe('stopping the master on the embedded TCP manager', () => {
  stoppingScenarios(tcpBackend, undefined, true);
  hardKillScenario(tcpBackend);

  it('a second signal exits at once, leaving no child', async () => {
    const backend = await tcpBackend();
    const { master } = await localJob(backend);
    const pids = childrenOf(master.child.pid!);
    expect(pids).toHaveLength(2);
    master.child.kill('SIGINT');
    await sleep(50);
    master.child.kill('SIGINT');
    const { code } = await exitWithin(master, 3000, 'the master');
    expect(code).toBe(130);
    await waitFor(() => pids.every((pid) => !isAlive(pid)), 5000, 'the local workers to exit');
  }, 60_000);
});

describe('stopping the master on Redis', async () => {
  const { redisBackend, redisKeysOf } = await import('./brokers.js');
  stoppingScenarios(() => redisBackend('cli'), redisKeysOf, true);
  hardKillScenario(() => redisBackend('cli'));
  departureScenario(() => redisBackend('cli'), redisKeysOf);
});

describe('stopping the master on RabbitMQ', async () => {
  const { rabbitmqBackend, rabbitmqNamesOf } = await import('./brokers.js');
  // Queues and exchanges: the private queue's broadcast exchange must go with it.
  const queuesAndExchanges = async (queue: string) => [
    ...(await rabbitmqNamesOf(queue, 'queues')),
    ...(await rabbitmqNamesOf(queue, 'exchanges')),
  ];
  stoppingScenarios(() => rabbitmqBackend('cli'), queuesAndExchanges, true);
  hardKillScenario(() => rabbitmqBackend('cli'));
  departureScenario(() => rabbitmqBackend('cli'), rabbitmqNamesOf);
});

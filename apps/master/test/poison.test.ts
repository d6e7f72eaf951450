import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type Backend, tcpBackend } from './backends.js';
import {
  exitWithin,
  freePort,
  inputFile,
  killAfterEach,
  MASTER_CLI,
  readResults,
  start,
  WORKER_CLI,
  waitFor,
} from './helpers.js';

// A task that kills every worker running it: with workers restarted as they die (systemd, Kubernetes), the
// task fails after --max-attempts with a WorkerLostError, and every other task completes once.

const EXIT_ON_7 = fileURLToPath(new URL('./fixtures/exit-on-7.mjs', import.meta.url));
const track = killAfterEach();

function poisonTask(makeBackend: () => Promise<Backend>) {
  it('a task that exits its worker fails with WorkerLostError after --max-attempts; the others complete', async () => {
    const backend = await makeBackend();
    try {
      const { input, output } = inputFile(60);
      const master = start(MASTER_CLI, [
        ...backend.masterArgs,
        '--input',
        input,
        '--output',
        output,
        '--max-attempts',
        '2',
      ]);
      track(master);
      if (backend.readyLine)
        await waitFor(() => backend.readyLine!.test(master.stderr()), 10_000, 'the master');
      let finished = false;
      void master.exit.then(() => {
        finished = true;
      });
      // Two worker slots, each restarted when its worker dies; at most 8 starts in all.
      let starts = 0;
      let deaths = 0;
      const supervise = async () => {
        while (!finished && starts < 8) {
          starts++;
          const worker = start(WORKER_CLI, [
            ...backend.workerArgs,
            '--handler',
            EXIT_ON_7,
            '--concurrency',
            '4',
          ]);
          track(worker);
          const exit = await Promise.race([worker.exit, master.exit.then(() => undefined)]);
          if (exit && exit.code === 70) deaths++;
        }
      };
      await Promise.all([supervise(), supervise()]);
      const { code } = await master.exit;
      expect(code, master.stderr()).toBe(1);
      const results = readResults(output);
      expect(results).toHaveLength(60);
      expect(new Set(results.map((r) => r.input)).size).toBe(60);
      const failed = results.filter((r) => !r.ok);
      expect(failed.map((r) => [r.input, r.error?.message])).toEqual([[7, expect.any(String)]]);
      expect(failed[0]!.error).toMatchObject({ name: 'WorkerLostError' });
      expect(failed[0]!.error!.message).toMatch(/given up after 2 attempts/);
      expect(results.every((r) => r.input === 7 || r.value === r.input * r.input)).toBe(true);
      expect(deaths).toBe(2);
      expect(master.stderr()).toMatch(/done 59, failed 1/);
    } finally {
      await backend.cleanup();
    }
  }, 90_000);
}

describe('a poison task on the embedded TCP manager', () => {
  poisonTask(tcpBackend);
});

describe('a poison task on Redis', () => {
  poisonTask(async () => (await import('./brokers.js')).redisBackend());
});

describe('a poison task on RabbitMQ', () => {
  poisonTask(async () => (await import('./brokers.js')).rabbitmqBackend());
});

describe('a result that cannot be encoded, on the embedded TCP manager', () => {
  it('fails alone with ResultEncodingError; the 99 other tasks complete', async () => {
    const { input, output } = inputFile(100);
    const master = track(
      start(MASTER_CLI, [
        '--port',
        String(await freePort()),
        '--workers',
        '1',
        '--handler',
        fileURLToPath(new URL('./fixtures/unencodable-13.mjs', import.meta.url)),
        '--input',
        input,
        '--output',
        output,
      ]),
    );
    const { code } = await exitWithin(master, 30_000, 'the master');
    expect(code, master.stderr()).toBe(1);
    const results = readResults(output);
    expect(results).toHaveLength(100);
    const failed = results.filter((r) => !r.ok);
    expect(failed.map((r) => [r.input, r.error?.name])).toEqual([[13, 'ResultEncodingError']]);
    expect(results.every((r) => r.input === 13 || r.value === r.input * r.input)).toBe(true);
  }, 60_000);
});

import { describe, expect, it } from 'vitest';
import { type Backend, customTransportBackend, sqliteBackend, tcpBackend } from './backends.js';
import {
  CUSTOM_TRANSPORT,
  exitWithin,
  FLAKY_HANDLER,
  inputFile,
  killAfterEach,
  MASTER_CLI,
  readResults,
  start,
  WORKER_CLI,
  waitFor,
} from './helpers.js';

const SLOW_HANDLER = new URL('./fixtures/slow-square.mjs', import.meta.url).pathname;
const track = killAfterEach();

const lineCount = (path: string) => {
  try {
    return readResults(path).length;
  } catch {
    return 0;
  }
};

/** Start the master on `backend`, wait until workers can reach it, start two workers. */
async function startJob(
  backend: Backend,
  input: string,
  output: string,
  handler: string,
  extra: string[] = [],
) {
  const master = track(
    start(MASTER_CLI, [
      ...backend.masterArgs,
      '--input',
      input,
      '--output',
      output,
      '--max-attempts',
      '3',
      ...extra,
    ]),
  );
  if (backend.readyLine)
    await waitFor(() => backend.readyLine!.test(master.stderr()), 10_000, 'the master to listen');
  const workers = [1, 2].map(() =>
    track(start(WORKER_CLI, [...backend.workerArgs, '--handler', handler, '--concurrency', '4'])),
  );
  return { master, workers };
}

/** Scenarios every transport must pass with the real CLIs. */
export function endToEnd(makeBackend: () => Promise<Backend>) {
  let backend: Backend;

  it('2 workers complete 2,000 tasks though one is SIGKILLed mid-run; every result once; failures reported', async () => {
    backend = await makeBackend();
    try {
      const { input, output } = inputFile(2000);
      const { master, workers } = await startJob(backend, input, output, FLAKY_HANDLER);
      await waitFor(() => lineCount(output) >= 300, 30_000, '300 results');
      workers[0]!.child.kill('SIGKILL');
      const { code } = await master.exit;
      expect(code, master.stderr()).toBe(1); // multiples of 97 fail every attempt
      const results = readResults(output);
      expect(results).toHaveLength(2000);
      expect(new Set(results.map((r) => r.input)).size).toBe(2000);
      for (const result of results) {
        if (result.input % 97 === 0) {
          // Its last attempt may have been on the killed worker (running, or prefetched and not yet started: the
          // broker cannot tell): then it ends as given up with its worker lost, which is the truth.
          const lastAttemptLost = result.error?.name === 'WorkerLostError';
          expect(result).toMatchObject({
            ok: false,
            error: lastAttemptLost
              ? { message: expect.stringMatching(/given up after 3 attempts \(maxAttempts 3\)/) }
              : { name: 'RangeError', message: `refusing ${result.input}` },
          });
        } else {
          expect(result).toMatchObject({ ok: true, value: result.input * result.input });
        }
      }
      expect(master.stderr()).toMatch(/done 1980, failed 20/);
    } finally {
      await backend.cleanup();
    }
  }, 90_000);

  it('SIGTERM makes a worker finish its in-flight tasks and exit 0; nothing is lost', async () => {
    backend = await makeBackend();
    try {
      const { input, output } = inputFile(2000);
      const { master, workers } = await startJob(backend, input, output, SLOW_HANDLER);
      await waitFor(() => lineCount(output) >= 300, 30_000, '300 results');
      workers[0]!.child.kill('SIGTERM');
      const worker = await workers[0]!.exit;
      expect(worker, workers[0]!.stderr()).toEqual({ code: 0, signal: null });
      expect(workers[0]!.stderr()).toBe('');
      const { code } = await master.exit;
      expect(code, master.stderr()).toBe(0);
      const results = readResults(output);
      expect(results).toHaveLength(2000);
      expect(new Set(results.map((r) => r.input)).size).toBe(2000);
      expect(results.every((r) => r.ok && r.value === r.input * r.input)).toBe(true);
    } finally {
      await backend.cleanup();
    }
  }, 90_000);
}

describe('end to end on the embedded TCP manager', () => {
  endToEnd(tcpBackend);
});

describe('end to end on RabbitMQ', () => {
  endToEnd(async () => (await import('./brokers.js')).rabbitmqBackend());
});

describe('a custom transport loaded from a file path', () => {
  // The same job twice: the built file by absolute path, and the package by name (a devDependency
  // of both CLIs, as a user would install it next to them).
  const specs = [
    ['a file path', CUSTOM_TRANSPORT],
    ['a package name', 'taskwire-transport-namespaced'],
  ] as const;
  for (const [label, spec] of specs) {
    it(`--transport <${label}>: the master hosts namespaced queues; 2 workers complete 500 tasks, each once`, async () => {
      const backend = await customTransportBackend(spec);
      const { input, output } = inputFile(500);
      const { master } = await startJob(backend, input, output, SLOW_HANDLER);
      const { code } = await exitWithin(master, 30_000, 'the master');
      expect(code, master.stderr()).toBe(0);
      expect(master.stderr()).toMatch(/done 500, failed 0/);
      const results = readResults(output);
      expect(results).toHaveLength(500);
      expect(new Set(results.map((r) => r.input)).size).toBe(500);
      expect(results.every((r) => r.ok && r.value === r.input * r.input)).toBe(true);
    }, 60_000);
  }
});

describe('end to end on SQLite (the example transport for a new backend, loaded by package name)', () => {
  endToEnd(async () => sqliteBackend());
});

describe('end to end on Redis', () => {
  endToEnd(async () => (await import('./brokers.js')).redisBackend());
});

describe('end to end on PostgreSQL', () => {
  endToEnd(async () => (await import('./postgres-backend.js')).postgresBackend());
});

describe('end to end on NATS JetStream', () => {
  endToEnd(async () => (await import('./brokers.js')).natsBackend());
});

describe('end to end on memory:// (workers in the master process)', () => {
  it('--workers 2 completes 2,000 tasks; failures come back after maxAttempts', async () => {
    const { input, output } = inputFile(2000);
    const master = track(
      start(MASTER_CLI, [
        '--transport',
        'memory',
        '--workers',
        '2',
        '--handler',
        FLAKY_HANDLER,
        '--max-attempts',
        '2',
        '--input',
        input,
        '--output',
        output,
      ]),
    );
    const { code } = await master.exit;
    expect(code, master.stderr()).toBe(1);
    const results = readResults(output);
    expect(results).toHaveLength(2000);
    expect(new Set(results.map((r) => r.input)).size).toBe(2000);
    expect(results.filter((r) => !r.ok).map((r) => r.input)).toEqual(expect.arrayContaining([97, 194, 1940]));
    expect(results.every((r) => (r.input % 97 === 0 ? !r.ok : r.ok && r.value === r.input ** 2))).toBe(true);
    expect(master.stderr()).toMatch(/done 1980, failed 20/);
  }, 60_000);
});

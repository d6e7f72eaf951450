import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { REDIS_URL } from './brokers.js';
import { exitWithin, freePort, killAfterEach, MASTER_CLI, run, start, WORKER_CLI } from './helpers.js';

// `--isolate threads`: handlers run in a pool of worker threads (packages/cli-kit/src/thread-pool.ts).
const THREAD_HANDLER = fileURLToPath(
  new URL('../../../packages/cli-kit/test/fixtures/thread-handlers.mjs', import.meta.url),
);

const track = killAfterEach();

const isoName = (label: string) =>
  `iso-${label}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

/** A temp dir with `payloads` as JSON lines. */
function jobFiles(payloads: unknown[]) {
  const dir = mkdtempSync(join(tmpdir(), 'taskwire-iso-'));
  const input = join(dir, 'input.jsonl');
  writeFileSync(input, `${payloads.map((p) => JSON.stringify(p)).join('\n')}\n`);
  return { dir, input, output: join(dir, 'output.jsonl') };
}

interface ResultLine {
  input: unknown;
  ok: boolean;
  value?: unknown;
  error?: { name: string; message: string };
  attempt: number;
}
const readLines = (path: string): ResultLine[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));

/** One line on stderr naming `pattern`, exit 2. */
function expectUsageError(result: { code: number | null; stderr: string }, pattern: RegExp) {
  const lines = result.stderr.trim().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(result.code).toBe(2);
}

describe('--isolate, --threads, --task-timeout flags', () => {
  const bad: [string[], RegExp][] = [
    [['--isolate', 'fibers'], /--isolate.*none.*threads/],
    [['--threads', '0'], /--threads/],
    [['--threads', 'many'], /--threads/],
    [['--task-timeout', '0'], /--task-timeout/],
    [['--task-timeout', '1.5s'], /--task-timeout/],
    [['--task-timeout', String(2 ** 31)], /--task-timeout/],
  ];
  for (const [args, pattern] of bad) {
    it(`taskwire-worker ${args.join(' ')}: one line, exit 2`, async () => {
      expectUsageError(await run(WORKER_CLI, ['--transport', 'memory', ...args], {}, 10_000), pattern);
    });
    it(`taskwire-master ${args.join(' ')}: one line, exit 2`, async () => {
      expectUsageError(await run(MASTER_CLI, ['--transport', 'memory', ...args], {}, 10_000), pattern);
    });
  }
  it('taskwire-worker --threads without --isolate threads: one line, exit 2', async () => {
    const result = await run(WORKER_CLI, ['--transport', 'memory', '--threads', '2'], {}, 10_000);
    expectUsageError(result, /--threads needs --isolate threads/);
  });
});

describe('--isolate threads', () => {
  it('a handler spinning for ever fails after its attempts (its thread replaced); every other task completes', async () => {
    const { input, output } = jobFiles([{ spin: true }, ...Array.from({ length: 40 }, (_, i) => i + 1)]);
    // One thread: the later tasks run only if the spinning thread was terminated and replaced.
    const master = start(MASTER_CLI, [
      '--port',
      String(await freePort()),
      '--workers',
      '1',
      '--handler',
      THREAD_HANDLER,
      '--isolate',
      'threads',
      '--threads',
      '1',
      '--task-timeout',
      '300',
      '--max-attempts',
      '2',
      '--input',
      input,
      '--output',
      output,
    ]);
    track(master);
    const { code } = await exitWithin(master, 30_000, 'the master');
    expect(code, master.stderr()).toBe(1);
    const results = readLines(output);
    expect(results).toHaveLength(41);
    const spun = results.filter((r) => typeof r.input === 'object');
    expect(spun).toHaveLength(1);
    expect(spun[0]).toMatchObject({ ok: false, attempt: 2, error: { name: 'TaskTimeoutError' } });
    const squares = results.filter((r) => typeof r.input === 'number');
    expect(squares).toHaveLength(40);
    for (const r of squares) expect(r).toMatchObject({ ok: true, value: (r.input as number) ** 2 });
  }, 40_000);

  it('on memory:// the in-process workers run handlers in the thread pool too', async () => {
    const { input, output } = jobFiles([{ threadId: true }, { threadId: true }, 3]);
    const master = start(MASTER_CLI, [
      '--transport',
      'memory',
      '--workers',
      '1',
      '--handler',
      THREAD_HANDLER,
      '--isolate',
      'threads',
      '--threads',
      '1',
      '--input',
      input,
      '--output',
      output,
    ]);
    track(master);
    const { code } = await exitWithin(master, 20_000, 'the master');
    expect(code, master.stderr()).toBe(0);
    const values = readLines(output).map((r) => r.value);
    expect(values).toContain(9);
    // The master's main thread has id 0; a pool thread has another.
    const threadIds = values.filter((v) => v !== 9);
    expect(threadIds).toHaveLength(2);
    for (const id of threadIds) expect(id).not.toBe(0);
  });

  it('on Redis, handlers blocking longer than the lease run exactly once: heartbeats keep flowing', async () => {
    const queue = isoName('lease');
    // Each task burns 1.5 s of CPU; the lease lapses after 0.6 s without a heartbeat.
    const url = `${REDIS_URL}?leaseTtlMs=600`;
    const { dir, input, output } = jobFiles([]);
    const log = join(dir, 'runs.log');
    writeFileSync(log, '');
    const ids = [1, 2, 3, 4, 5, 6];
    writeFileSync(
      input,
      `${ids.map((id) => JSON.stringify({ burnMs: 1500, log: { path: log, id } })).join('\n')}\n`,
    );
    const common = ['--transport', 'redis', '--url', url, '--queue', queue];
    try {
      const master = start(MASTER_CLI, [
        ...common,
        '--max-attempts',
        '5',
        '--input',
        input,
        '--output',
        output,
      ]);
      track(master);
      for (let i = 0; i < 2; i++) {
        track(
          start(WORKER_CLI, [
            ...common,
            '--handler',
            THREAD_HANDLER,
            '--isolate',
            'threads',
            '--threads',
            '1',
          ]),
        );
      }
      const { code } = await exitWithin(master, 30_000, 'the master');
      expect(code, master.stderr()).toBe(0);
      const results = readLines(output);
      expect(results.map((r) => r.value).sort()).toEqual(ids);
      expect(results.every((r) => r.ok && r.attempt === 1)).toBe(true);
      // Each handler ran once: no lease lapsed, so no task went to a second worker.
      const runs = readFileSync(log, 'utf8').split('\n').filter(Boolean).map(Number);
      expect(runs.sort()).toEqual(ids);
    } finally {
      await deleteRedisKeys(queue);
    }
  }, 40_000);
});

/** Remove every Redis key of the run's queues. */
async function deleteRedisKeys(queue: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    for (let i = 0; i < 10_000; i++) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `*${queue}*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
  } finally {
    redis.disconnect();
  }
}

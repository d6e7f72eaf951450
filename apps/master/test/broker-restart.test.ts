import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrivateBroker, startPrivateBroker } from '../../../packages/transport-rabbitmq/test/broker.js';
import { type PrivateRedis, startPrivateRedis } from '../../../packages/transport-redis/test/redis.js';
import {
  exitWithin,
  inputFile,
  killAfterEach,
  MASTER_CLI,
  type Running,
  readResults,
  start,
  uniqueName,
  WORKER_CLI,
  waitFor,
} from './helpers.js';

// The real CLIs ride out a backend that stops gracefully (RabbitMQ `stop_app`, Redis `SHUTDOWN`)
// and comes back: every result arrives exactly once and the master exits 0. A backend that stays
// down past `reconnectDeadlineMs` ends the job with a one-line error and a non-zero exit.
// Private backends only: the shared brokers are never stopped.

const SLOW_HANDLER = new URL('./fixtures/slow-square.mjs', import.meta.url).pathname;
const TASKS = Number(process.env.RESTART_TASKS ?? 3000);
const DOWN_MS = 3000;
const track = killAfterEach();

const lineCount = (path: string) => {
  try {
    return readResults(path).length;
  } catch {
    return 0;
  }
};
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A master and two workers on `url`, the master writing results to `output`. */
function startJob(transport: string, url: string, input: string, output: string) {
  const common = ['--transport', transport, '--url', url, '--queue', uniqueName('restart')];
  const master = track(start(MASTER_CLI, [...common, '--input', input, '--output', output]));
  const workers = [1, 2].map(() =>
    track(start(WORKER_CLI, [...common, '--handler', SLOW_HANDLER, '--concurrency', '4'])),
  );
  return { master, workers };
}

/** Every input's result, exactly once, each a correct square. */
function expectEveryResultOnce(output: string, master: Running) {
  const results = readResults(output);
  expect(new Set(results.map((r) => r.input)).size, master.stderr()).toBe(TASKS);
  expect(results).toHaveLength(TASKS);
  expect(results.every((r) => r.ok && r.value === r.input * r.input)).toBe(true);
}

/** Stop the backend mid-run for `downMs`, start it again; the job must finish whole. */
async function rideOut(
  transport: string,
  url: string,
  stop: () => Promise<void>,
  restart: () => Promise<void>,
): Promise<void> {
  const { input, output } = inputFile(TASKS);
  const { master } = startJob(transport, url, input, output);
  await waitFor(() => lineCount(output) >= 300, 30_000, '300 results');
  await stop();
  await sleep(DOWN_MS);
  await restart();
  const { code } = await exitWithin(master, 45_000, 'the master').catch((error: Error) => {
    throw new Error(`${error.message}; ${lineCount(output)} results; master: ${master.stderr().slice(-500)}`);
  });
  expect(code, master.stderr()).toBe(0);
  expectEveryResultOnce(output, master);
}

/** Stop the backend mid-run and leave it down past the deadline: a one-line error, a non-zero exit. */
async function giveUp(
  transport: string,
  url: string,
  stop: () => Promise<void>,
  restart: () => Promise<void>,
): Promise<void> {
  const { input, output } = inputFile(TASKS);
  const { master } = startJob(
    transport,
    `${url}${url.includes('?') ? '&' : '?'}reconnectDeadlineMs=2000`,
    input,
    output,
  );
  await waitFor(() => lineCount(output) >= 300, 30_000, '300 results');
  await stop();
  try {
    const { code } = await exitWithin(master, 30_000, 'the master');
    expect(code).not.toBe(0);
    const lines = master.stderr().trim().split('\n');
    expect(lines.at(-1)).toMatch(/gave up reconnecting .* after 2000 ms/);
  } finally {
    await restart();
  }
}

describe('a RabbitMQ node stopped and started mid-run (stop_app, start_app)', () => {
  let broker: PrivateBroker;
  beforeAll(async () => {
    broker = await startPrivateBroker();
  }, 90_000);
  afterAll(() => broker?.stop());

  it('master and two workers ride it out: every result once, master exits 0', async () => {
    await rideOut('rabbitmq', broker.url, broker.stopApp, broker.startApp);
  }, 120_000);

  it('down past reconnectDeadlineMs: the master exits non-zero with a one-line reason', async () => {
    await giveUp('rabbitmq', broker.url, broker.stopApp, broker.startApp);
  }, 120_000);
});

describe('a persistent Redis server shut down and started again mid-run', () => {
  let redis: PrivateRedis;
  beforeAll(async () => {
    redis = await startPrivateRedis({ persistent: true });
  });
  afterAll(() => redis?.stop());

  it('master and two workers ride it out: every result once, master exits 0', async () => {
    await rideOut('redis', `${redis.url}?leaseTtlMs=2000`, redis.shutdown, redis.start);
  }, 120_000);

  it('down past reconnectDeadlineMs: the master exits non-zero with a one-line reason', async () => {
    await giveUp('redis', `${redis.url}?leaseTtlMs=2000`, redis.shutdown, redis.start);
  }, 120_000);
});

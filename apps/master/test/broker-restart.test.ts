import { connect as connectTcp } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { type PrivateBackend, privateRabbitMQ, privateRedis } from './private-backends.js';

// The real CLIs ride out a backend that stops gracefully (RabbitMQ `stop_app`, Redis `SHUTDOWN`)
// and comes back: every result arrives exactly once and the master exits 0. A backend that stays
// down past `reconnectDeadlineMs` ends the job with a one-line error and a non-zero exit.
// Private backends only: the shared brokers are never stopped.

const PACED_HANDLER = new URL('./fixtures/paced-square.mjs', import.meta.url).pathname;
const TASKS = 3000;
const DOWN_MS = 3000;
const DEADLINE_MS = 2000;
const track = killAfterEach();

const lineCount = (path: string) => {
  try {
    return readResults(path).length;
  } catch {
    return 0;
  }
};
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Whether something accepts TCP connections at `url`'s host and port. */
function listening(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connectTcp({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * A master and two workers on `url`, the master writing results to `output`. A small prefetch: tasks held when the
 * backend stops come back as second attempts, which a worker runs one at a time (poison isolation).
 */
function startJob(transport: string, url: string) {
  const { input, output } = inputFile(TASKS);
  const common = ['--transport', transport, '--url', url, '--queue', uniqueName('restart')];
  const master = track(start(MASTER_CLI, [...common, '--input', input, '--output', output]));
  for (const _ of [1, 2]) {
    track(
      start(WORKER_CLI, [...common, '--handler', PACED_HANDLER, '--concurrency', '4', '--prefetch', '16']),
    );
  }
  return { master, output };
}

/** Start `stop`, and resolve with the results written by the time the backend stopped listening. */
async function stopMidRun(url: string, stop: () => Promise<void>, output: string): Promise<number> {
  const stopped = stop();
  let resultsAtStop = -1;
  for (let i = 0; i < 3000 && resultsAtStop < 0; i++) {
    if (!(await listening(url))) resultsAtStop = lineCount(output);
    else await sleep(20);
  }
  await stopped;
  return resultsAtStop;
}

/** The master's own exit, with what it printed when it does not come. */
async function masterExit(master: Running, output: string, timeoutMs: number) {
  return exitWithin(master, timeoutMs, 'the master').catch((error: Error) => {
    throw new Error(`${error.message}; ${lineCount(output)} results; master: ${master.stderr().slice(-500)}`);
  });
}

/** Stop the backend mid-run for a few seconds, start it again: the job finishes whole. */
async function rideOut(
  transport: string,
  url: string,
  stop: () => Promise<void>,
  restart: () => Promise<void>,
): Promise<void> {
  const { master, output } = startJob(transport, url);
  await waitFor(() => lineCount(output) >= 100, 30_000, '100 results');
  const resultsAtStop = await stopMidRun(url, stop, output);
  // The backend really went down while the job was running.
  expect(resultsAtStop).toBeGreaterThanOrEqual(0);
  expect(resultsAtStop).toBeLessThan(TASKS);
  await sleep(DOWN_MS);
  await restart();
  const { code } = await masterExit(master, output, 60_000);
  expect(code, master.stderr()).toBe(0);
  const results = readResults(output);
  expect(new Set(results.map((r) => r.input)).size, master.stderr()).toBe(TASKS);
  expect(results).toHaveLength(TASKS);
  expect(results.every((r) => r.ok && r.value === r.input * r.input)).toBe(true);
}

/** Stop the backend mid-run and leave it down past the deadline: a one-line error, a non-zero exit. */
async function giveUp(transport: string, url: string, stop: () => Promise<void>): Promise<void> {
  const withDeadline = `${url}${url.includes('?') ? '&' : '?'}reconnectDeadlineMs=${DEADLINE_MS}`;
  const { master, output } = startJob(transport, withDeadline);
  await waitFor(() => lineCount(output) >= 100, 30_000, '100 results');
  const resultsAtStop = await stopMidRun(url, stop, output);
  expect(resultsAtStop).toBeLessThan(TASKS);
  const { code } = await masterExit(master, output, 30_000);
  expect(code, `exit ${code}: ${master.stderr()}`).not.toBe(0);
  const last = master.stderr().trim().split('\n').at(-1);
  expect(last, `exit ${code}: ${master.stderr()}`).toMatch(
    new RegExp(`^taskwire-master: error: gave up reconnecting to .* after ${DEADLINE_MS} ms`),
  );
}

describe('a RabbitMQ node stopped and started mid-run', () => {
  let broker: PrivateBackend;
  beforeAll(async () => {
    broker = await privateRabbitMQ();
  }, 90_000);
  afterAll(() => broker?.remove());

  it('stop_app, 3 s, start_app: master and two workers ride it out, every result once, master exits 0', async () => {
    await rideOut('rabbitmq', broker.url, broker.stopGracefully, broker.startAgain);
  }, 150_000);

  it('down past reconnectDeadlineMs: the master exits non-zero with a one-line reason', async () => {
    await giveUp('rabbitmq', broker.url, broker.stopGracefully);
  }, 90_000);
});

describe('a persistent Redis server shut down and started again mid-run', () => {
  let redis: PrivateBackend;
  beforeAll(async () => {
    redis = await privateRedis();
  });
  afterAll(() => redis?.remove());

  it('SHUTDOWN, 3 s, start: master and two workers ride it out, every result once, master exits 0', async () => {
    await rideOut('redis', `${redis.url}?leaseTtlMs=2000`, redis.stopGracefully, redis.startAgain);
  }, 120_000);

  it('down past reconnectDeadlineMs: the master exits non-zero with a one-line reason', async () => {
    await giveUp('redis', `${redis.url}?leaseTtlMs=2000`, redis.stopGracefully);
  }, 90_000);
});

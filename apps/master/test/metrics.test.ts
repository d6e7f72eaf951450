import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exitWithin, killAfterEach, MASTER_CLI, start, WORKER_CLI, waitFor } from './helpers.js';

const track = killAfterEach();

/** The value of one sample of a Prometheus text page, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return undefined;
}

/** Items waiting in the task queue, whichever states the transport tells apart. */
function depth(text: string): number {
  return ['ready', 'delayed', 'queued'].reduce(
    (sum, state) => sum + (sample(text, 'taskwire_queue_depth', { queue: 'tasks', state }) ?? 0),
    0,
  );
}

async function scrape(url: string): Promise<string> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  return response.text();
}

describe('--metrics-port (CLI, over tcp)', () => {
  it('the master and a remote worker serve /metrics, and the values move while the job runs', async () => {
    const tasks = 40;
    const dir = mkdtempSync(join(tmpdir(), 'taskwire-metrics-'));
    const input = join(dir, 'input.jsonl');
    writeFileSync(input, `${Array.from({ length: tasks }, () => '60').join('\n')}\n`);
    const env = { TASKWIRE_AUTHKEY: 'metrics-test-key' };
    const master = track(
      start(MASTER_CLI, ['--port', '0', '--input', input, '--metrics-port', '0', '--no-progress'], env),
    );
    await waitFor(() => /metrics on http:\/\/\S+/.test(master.stderr()), 15_000, 'the master metrics line');
    const masterUrl = /taskwire-master: metrics on (http:\/\/\S+)/.exec(master.stderr())![1]!;
    const managerUrl = /serving (tcp:\/\/\S+)/.exec(master.stderr())![1]!;

    // Nothing takes the tasks yet: they wait in the queue.
    let text = '';
    for (let i = 0; i < 100; i++) {
      text = await scrape(masterUrl);
      if (sample(text, 'taskwire_tasks_submitted_total', { queue: 'tasks' }) === tasks) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(sample(text, 'taskwire_tasks_submitted_total', { queue: 'tasks' })).toBe(tasks);
    expect(depth(text)).toBe(tasks);
    expect(sample(text, 'taskwire_workers', { queue: 'tasks' })).toBe(0);

    const worker = track(
      start(
        WORKER_CLI,
        ['--url', managerUrl, '--handler', 'sleep', '--concurrency', '2', '--metrics-port', '0'],
        env,
      ),
    );
    await waitFor(() => /metrics on http:\/\/\S+/.test(worker.stderr()), 15_000, 'the worker metrics line');
    const workerUrl = /taskwire-worker: metrics on (http:\/\/\S+)/.exec(worker.stderr())![1]!;

    // While the job runs: results arrive, the queue drains, the worker is seen.
    for (let i = 0; i < 200; i++) {
      text = await scrape(masterUrl);
      if ((sample(text, 'taskwire_tasks_completed_total', { queue: 'tasks' }) ?? 0) >= 10) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const completed = sample(text, 'taskwire_tasks_completed_total', { queue: 'tasks' })!;
    expect(completed).toBeGreaterThanOrEqual(10);
    expect(completed).toBeLessThan(tasks);
    expect(depth(text)).toBeLessThan(tasks);
    expect(
      sample(text, 'taskwire_task_duration_seconds_count', { queue: 'tasks', outcome: 'completed' }),
    ).toBe(completed);
    expect(sample(text, 'taskwire_workers', { queue: 'tasks' })).toBe(1);
    const byWorker = await scrape(workerUrl);
    const finishedByWorker = sample(byWorker, 'taskwire_tasks_completed_total', { queue: 'tasks' })!;
    expect(finishedByWorker).toBeGreaterThanOrEqual(10);
    expect(sample(byWorker, 'taskwire_reconnects_total', { transport: 'tcp' })).toBe(0);

    const { code } = await exitWithin(master, 30_000, 'the master');
    expect(code).toBe(0);
    expect(master.stderr()).toContain(`done ${tasks}, failed 0`);
    // The worker's count went on (its last acks may fail with the manager gone: those are not counted).
    const last = await scrape(workerUrl);
    expect(sample(last, 'taskwire_tasks_completed_total', { queue: 'tasks' })).toBeGreaterThan(
      finishedByWorker,
    );
  });
});

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Connection,
  createMemoryTransport,
  Master,
  taskQueueOptions,
  Worker,
  WorkerDirectory,
} from '@taskwire/core';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { startDashboard } from '../src/index.js';
import { BROKER_TRANSPORTS, type BrokerTransport, openBackend } from './backends.js';
import { ADMIN_CLI, MASTER_CLI, WORKER_CLI, waitFor } from './helpers.js';

// The dashboard end to end in Debian's Chromium driven by playwright-core (`.ci/run` installs Chromium when
// missing): on the memory transport in this process, and on every other transport with the real CLIs: a master
// (hosting the TCP manager, or on a namespace of the run's own on a broker) with two local workers, and
// `taskwire dashboard` against it.
const CHROMIUM = '/usr/bin/chromium';
const HANDLER = fileURLToPath(new URL('./fixtures/fails-negative.mjs', import.meta.url));
const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));

const processes: ChildProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];
let browser: Browser | undefined;
afterEach(async () => {
  await browser?.close();
  browser = undefined;
  // Every process gone before a backend's namespace is dropped (a live worker would recreate its queue).
  await Promise.all(
    processes.splice(0).map((child) => {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      return exited;
    }),
  );
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function spawnNode(cli: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('TASKWIRE_')),
  );
  const child = spawn(process.execPath, [cli, ...args], { env: { ...base, ...env }, stdio: 'pipe' });
  processes.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return { child, stdout: () => stdout, stderr: () => stderr };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });

/** The text of the queue table's cell `column` (0-based) for `queue`. */
const queueCell = (page: Page, queue: string, column: number) =>
  page.locator(`#queues tr[data-queue="${queue}"] td`).nth(column).textContent({ timeout: 1000 });

describe('taskwire dashboard end to end (memory, in process)', () => {
  it('shows counts, charts and workers moving, and requeues a dead task by a click', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'taskwire-dashboard-'));
    process.env.ADMIN_E2E_FIXED = join(dir, 'fixed');
    const { default: handler } = (await import(HANDLER)) as { default: (n: number) => Promise<number> };
    const transport = createMemoryTransport();
    const url = `memory://dashboard-e2e-${process.pid}`;
    const queue = `dash-${process.pid}`;
    const connections = await Promise.all([1, 2, 3, 4].map(() => transport.connect({ url })));
    const [masterConnection, dashboardConnection, ...workerConnections] = connections as [
      Connection,
      ...Connection[],
    ];
    const workers = await Promise.all(
      workerConnections.map((connection, i) =>
        Worker.start({ connection, queue, handler, concurrency: 2, name: `memory-${i + 1}` }),
      ),
    );
    const master = await Master.start({ connection: masterConnection, queue, maxAttempts: 1 });
    const directory = await WorkerDirectory.watch(dashboardConnection!);
    const dashboard = await startDashboard({
      connection: dashboardConnection!,
      workers: directory,
      port: 0,
      intervalMs: 250,
    });
    cleanups.push(async () => {
      await dashboard.close();
      await directory.close();
      await master.close();
      for (const worker of workers) await worker.stop();
      for (const connection of connections) await connection.close();
    });
    const page = await exercise(
      dashboard.url,
      queue,
      'memory',
      (lines) => {
        for (const line of lines) master.submit(Number(line)).catch(() => {});
      },
      () => writeFileSync(process.env.ADMIN_E2E_FIXED!, ''),
    );

    // A dead item that carries its failure shows the error, and the stack on a click.
    const images = `${queue}-images`;
    await masterConnection.queue(images, taskQueueOptions(images));
    const imagesDead = await masterConnection.queue(`${images}.dead`);
    const stack = 'RangeError: image too large\n    at resize (resize.js:12:9)';
    await imagesDead.put({
      ...{
        id: 't1',
        kind: 'resize',
        payload: { file: 'a.png' },
        maxAttempts: 1,
        replyTo: 'gone',
        createdAt: 1,
      },
      error: { name: 'RangeError', message: 'image too large', stack },
    });
    await expect.poll(() => queueCell(page, images, 5), { timeout: 10_000 }).toBe('1');
    await page.locator('#dead-queue').selectOption(images);
    const failure = page.locator('#dead tbody tr summary');
    await expect
      .poll(() => failure.textContent({ timeout: 1000 }), { timeout: 10_000 })
      .toBe('RangeError: image too large');
    await failure.click();
    expect(await page.locator('#dead tbody tr pre').textContent()).toBe(stack);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-memory-failure.png'), fullPage: true });
  }, 90_000);
});

/** How the real CLIs reach a backend. */
interface CliBackend {
  /** `taskwire-master` flags besides the job's. */
  masterFlags: string[];
  /** `taskwire dashboard` and `taskwire-worker` flags. */
  clientFlags: string[];
  /** Resolves once the master can be reached (the TCP manager it hosts listens). */
  ready(): Promise<void>;
  /**
   * Whether the master starts the two workers (`--workers 2`). On a broker they are `taskwire-worker` processes of
   * their own: a master's local workers there take a run-local queue (`<queue>.local.<id>`), not the named one.
   */
  localWorkers: boolean;
}

async function cliBackend(transport: 'tcp' | BrokerTransport): Promise<CliBackend> {
  if (transport === 'tcp') {
    const authkey = randomBytes(16).toString('hex');
    const port = await freePort();
    return {
      masterFlags: ['--authkey', authkey, '--port', String(port)],
      clientFlags: ['--authkey', authkey, '--url', `tcp://127.0.0.1:${port}`],
      ready: () => waitFor(() => listening(port), 20_000, `the master's TCP manager on ${port}`),
      localWorkers: true,
    };
  }
  const backend = await openBackend(transport);
  cleanups.push(() => backend.drop());
  return {
    masterFlags: backend.flags,
    clientFlags: backend.flags,
    ready: async () => {},
    localWorkers: false,
  };
}

describe.each(['tcp', ...BROKER_TRANSPORTS] as const)('taskwire dashboard end to end (%s)', (transport) => {
  it('shows counts, charts and workers moving, and requeues a dead task by a click', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'taskwire-dashboard-'));
    const fixed = join(dir, 'fixed');
    const backend = await cliBackend(transport);
    const queue = `dash-${process.pid}`;
    const workerFlags = ['--concurrency', '2', '--handler', HANDLER];
    const master = spawnNode(
      MASTER_CLI,
      [
        ...backend.masterFlags,
        '--queue',
        queue,
        ...(backend.localWorkers ? ['--workers', '2', ...workerFlags] : []),
        '--max-attempts',
        '1',
        '--input',
        '-',
        '--output',
        join(dir, 'out.jsonl'),
        '--no-progress',
      ],
      { ADMIN_E2E_FIXED: fixed },
    );
    await backend.ready();
    if (!backend.localWorkers) {
      for (const name of ['worker-1', 'worker-2']) {
        spawnNode(WORKER_CLI, [...backend.clientFlags, '--queue', queue, '--name', name, ...workerFlags], {
          ADMIN_E2E_FIXED: fixed,
        });
      }
    }
    const dashboard = spawnNode(ADMIN_CLI, [
      'dashboard',
      ...backend.clientFlags,
      '--queue',
      queue,
      '--port',
      '0',
      '--interval',
      '0.25',
      '--json',
    ]);
    await waitFor(() => dashboard.stdout().includes('\n'), 30_000, `the dashboard (${dashboard.stderr()})`);
    const { url } = JSON.parse(dashboard.stdout()) as { url: string };

    await exercise(
      url,
      queue,
      transport,
      (lines) => master.child.stdin!.write(`${lines.join('\n')}\n`),
      () => writeFileSync(fixed, ''),
      transport !== 'rabbitmq', // AMQP cannot look at an item without taking it
    );
    master.child.stdin!.end();
  }, 120_000);
});

/**
 * The scenario every backend goes through: open the page at `url`, see both workers, feed 200 tasks and 3 that
 * fail (through `submit`), see counts, charts and worker counters move, then `fix` the handler and requeue one dead
 * task by clicking (accepting the confirmation); a declined confirmation changes nothing. Screenshots are kept in
 * test-artifacts/.
 */
async function exercise(
  url: string,
  queue: string,
  label: string,
  submit: (lines: string[]) => void,
  fix: () => void,
  peek = true,
): Promise<Page> {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(url);

  // The workers announce themselves: both local workers are listed.
  await expect.poll(() => page.locator('#workers tbody tr').count(), { timeout: 15_000 }).toBe(2);
  await expect.poll(() => queueCell(page, queue, 0), { timeout: 10_000 }).toBe(queue);

  // Feed tasks in bursts, three of which fail for good; the counts and charts move.
  const pointsBefore = Number(await page.locator(`[data-chart="${queue}"]`).getAttribute('data-points'));
  for (let burst = 0; burst < 5; burst++) {
    const lines = Array.from({ length: 40 }, (_, i) => String(burst * 40 + i + 1));
    if (burst === 1) lines.push('-1', '-2', '-3');
    submit(lines);
    await new Promise((resolve) => setTimeout(resolve, 400));
  }
  await expect.poll(() => queueCell(page, queue, 5), { timeout: 15_000 }).toBe('3');
  const pointsAfter = Number(await page.locator(`[data-chart="${queue}"]`).getAttribute('data-points'));
  expect(pointsAfter).toBeGreaterThan(pointsBefore);
  expect(await page.locator(`[data-chart="${queue}"] canvas`).count()).toBe(2);
  // Charted: the task queue only, not its dead-letter queue nor the master's result queue.
  expect(await page.locator('[data-chart]').count()).toBe(1);
  // The workers' counters, from their heartbeats: every task done, three failed.
  await expect
    .poll(
      async () => {
        const cells = await page
          .locator('#workers tbody tr')
          .evaluateAll((rows) =>
            rows.map((row) => [Number(row.children[5]?.textContent), Number(row.children[6]?.textContent)]),
          );
        return cells.reduce((sum, [done, failed]) => [sum[0]! + done!, sum[1]! + failed!], [0, 0]);
      },
      { timeout: 20_000 },
    )
    .toEqual([200, 3]);

  mkdirSync(ARTIFACTS, { recursive: true });
  if (!peek) {
    await requeueAllUnlisted(page, queue, label, fix);
    expect(problems).toEqual([]);
    return page;
  }

  // The dead letters: the three failed tasks.
  const deadRows = page.locator('#dead tbody tr');
  await expect.poll(() => deadRows.count(), { timeout: 10_000 }).toBe(3);
  const payloads = await deadRows.evaluateAll((rows) =>
    rows.map((row) => row.children[3]?.textContent).sort(),
  );
  expect(payloads).toEqual(['-1', '-2', '-3']);
  expect(await deadRows.first().locator('td').nth(1).textContent()).toBe('default');

  await page.screenshot({ path: join(ARTIFACTS, `dashboard-${label}.png`), fullPage: true });

  // The fix is deployed; requeue one dead task by clicking, accepting the confirmation.
  fix();
  const questions: string[] = [];
  page.once('dialog', (dialog) => {
    questions.push(dialog.message());
    void dialog.accept();
  });
  await deadRows.first().locator('button', { hasText: 'Requeue' }).click();
  await expect.poll(() => deadRows.count(), { timeout: 10_000 }).toBe(2);
  expect(questions).toHaveLength(1);
  expect(questions[0]).toMatch(new RegExp(`^Requeue item \\S+ back to ${queue}\\?$`));
  await expect.poll(() => queueCell(page, queue, 5), { timeout: 10_000 }).toBe('2');
  // It ran and succeeded this time: a worker counts one more done task, the dead-letter count stays at 2.
  await expect
    .poll(
      () =>
        page
          .locator('#workers tbody tr')
          .evaluateAll((rows) => rows.reduce((sum, row) => sum + Number(row.children[5]?.textContent), 0)),
      { timeout: 20_000 },
    )
    .toBe(201);
  expect(await queueCell(page, queue, 5)).toBe('2');

  // Declining a confirmation changes nothing.
  page.once('dialog', (dialog) => void dialog.dismiss());
  await page.locator('#purge-dead').click();
  await new Promise((resolve) => setTimeout(resolve, 600));
  expect(await deadRows.count()).toBe(2);

  await page.screenshot({ path: join(ARTIFACTS, `dashboard-${label}-after-requeue.png`), fullPage: true });
  expect(problems).toEqual([]);
  return page;
}

/**
 * The end of the scenario on a transport that cannot peek (RabbitMQ): the dead-letter panel says how many items there
 * are and why they are not listed; after the `fix`, Requeue all (confirmed) sends the three back, and they succeed.
 */
async function requeueAllUnlisted(page: Page, queue: string, label: string, fix: () => void): Promise<void> {
  const summary = page.locator('#dead-summary');
  await expect
    .poll(() => summary.textContent({ timeout: 1000 }), { timeout: 10_000 })
    .toBe(`${queue}.dead: 3 items, not listed (the ${label} transport cannot peek (capability "peek"))`);
  expect(await page.locator('#dead tbody tr').count()).toBe(0);
  await page.screenshot({ path: join(ARTIFACTS, `dashboard-${label}.png`), fullPage: true });

  fix();
  const questions: string[] = [];
  page.once('dialog', (dialog) => {
    questions.push(dialog.message());
    void dialog.accept();
  });
  await page.locator('#requeue-all').click();
  await expect.poll(() => queueCell(page, queue, 5), { timeout: 10_000 }).toBe('0');
  expect(questions).toEqual([`Requeue every dead item of ${queue} back to it?`]);
  await expect
    .poll(
      () =>
        page
          .locator('#workers tbody tr')
          .evaluateAll((rows) => rows.reduce((sum, row) => sum + Number(row.children[5]?.textContent), 0)),
      { timeout: 20_000 },
    )
    .toBe(203);
  await page.screenshot({ path: join(ARTIFACTS, `dashboard-${label}-after-requeue.png`), fullPage: true });
}

import { randomBytes } from 'node:crypto';
import { createWriteStream, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { type FaultProxy, startFaultProxy } from '@taskwire/conformance/fault-proxy';
import type { Backend, CellBackend } from './backends.js';
import { throughputSvg } from './chart.js';
import type { ChaosTask } from './handler.js';
import { type JobEnd, startJob } from './job.js';
import type { FaultContext, FaultSettings, Scenario } from './scenarios.js';
import { type FaultWindow, recoveryMs } from './throughput.js';
import { WorkerPool } from './workers.js';

/** The settings of a whole run. */
export interface RunSettings extends FaultSettings {
  tasks: number;
  workers: number;
  /** Simulated work per task. */
  taskMs: number;
  concurrency: number;
  prefetch: number;
  out: string;
}

/** One cell of the table: a scenario on a transport. */
export interface CellResult {
  scenario: string;
  transport: string;
  /** Why the cell did not run (the scenario does not apply). */
  notApplicable?: string;
  submitted: number;
  /** Result lines the caller received (a duplicate counts twice). */
  results: number;
  ok: number;
  /** Poison tasks that ended as failures, as they must. */
  poisonFailed: number;
  poisonTotal: number;
  /** Failures of tasks that were not poison. */
  otherFailed: number;
  lost: number;
  duplicated: number;
  recoveryMs?: number;
  elapsedMs: number;
  workerDeaths: number;
  master: string;
  notes: string[];
  /** The chart, relative to the output directory. */
  chart?: string;
  /** Every target met: nothing lost or duplicated, every poison task failed, nothing else did. */
  passed: boolean;
}

/** Resolves once something accepts connections on `port` (the master's embedded manager). */
async function listening(port: number, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function describeExit(end: JobEnd): string {
  if (end.timedOut) return 'timed out';
  return end.signal ? `killed by ${end.signal}` : `exit ${end.code}`;
}

/** Run `scenario` on `backend`: the real master and workers, the fault, the counts and the chart. */
export async function runCell(
  scenario: Scenario,
  backend: Backend,
  settings: RunSettings,
): Promise<CellResult> {
  const id = `${scenario.name}-${backend.name}-${randomBytes(3).toString('hex')}`;
  const cell: CellBackend = await backend.cell(id);
  const base = { scenario: scenario.name, transport: backend.name, submitted: 0, results: 0, ok: 0 };
  const notApplicable = scenario.notApplicable(backend.name, cell);
  if (notApplicable) {
    cell.close();
    return {
      ...base,
      notApplicable,
      poisonFailed: 0,
      poisonTotal: 0,
      otherFailed: 0,
      lost: 0,
      duplicated: 0,
      elapsedMs: 0,
      workerDeaths: 0,
      master: '',
      notes: [],
      passed: true,
    };
  }
  const tasks: ChaosTask[] = Array.from({ length: settings.tasks }, (_, i) => {
    const poison = scenario.poison?.(i, settings.tasks);
    return poison ? { i, ms: settings.taskMs, poison } : { i, ms: settings.taskMs };
  });
  const poisonIds = new Set(tasks.filter((task) => task.poison).map((task) => task.i));
  const log = createWriteStream(join(settings.out, 'logs', `${scenario.name}-${backend.name}.log`));
  const proxy: FaultProxy | undefined =
    cell.linkPort !== undefined ? await startFaultProxy({ port: cell.linkPort }) : undefined;
  const queue = `chaos-${id}`;
  const job = startJob(
    {
      masterArgs: cell.masterArgs,
      queue,
      env: cell.env,
      tasks,
      ...(scenario.holdInputAfter !== undefined
        ? { holdInputAfter: Math.floor(tasks.length * scenario.holdInputAfter) }
        : {}),
      log,
      // Generous: the job's own time is a few seconds to a minute; a stuck one must not hang the run.
      deadlineMs: 120_000 + settings.tasks * 5,
    },
    (taskId) => poisonIds.has(taskId),
  );
  const workers = new WorkerPool(
    {
      transport: cell.workerTransport,
      url: cell.workerUrl(proxy?.port),
      queue,
      env: cell.env,
      concurrency: settings.concurrency,
      prefetch: settings.prefetch,
      log,
    },
    settings.workers,
  );
  const faults: FaultWindow[] = [];
  const notes: string[] = [];
  let failedOtherwise = false;
  let jobOver = false;
  const ended = job.ended.then((end) => {
    jobOver = true;
    return end;
  });
  const context: FaultContext = {
    workers,
    ...(proxy ? { proxy } : {}),
    backend: cell,
    settings,
    at: (fraction) =>
      Promise.race([
        job.results.whenDistinct(Math.ceil(tasks.length * fraction)).then(() => !jobOver),
        ended.then(() => false),
      ]),
    fault: async (label, inject) => {
      const start = Date.now() - job.started;
      try {
        await inject();
      } finally {
        faults.push({ label, start, end: Date.now() - job.started });
      }
    },
    note: (text) => notes.push(text),
    fail: (text) => {
      failedOtherwise = true;
      notes.push(`FAILED: ${text}`);
    },
    releaseInput: (fraction = 1) => job.releaseInput(Math.floor(tasks.length * fraction)),
  };
  if (cell.manager) await listening(cell.manager.port, 30_000).catch(() => undefined);
  workers.start();
  const injection = scenario.inject(context).catch((error: Error) => {
    context.fail(`fault injection failed: ${error.message}`);
    job.releaseInput();
  });
  const end = await ended;
  await injection;
  await workers.stop();
  await proxy?.close();
  cell.close();
  log.end();

  const { results } = job;
  const elapsedMs = results.times.length > 0 ? Math.max(...results.times) : Date.now() - job.started;
  const poisonFailed = [...poisonIds].length === 0 ? 0 : results.failed - results.failedInnocent;
  if (faults.length === 0 && scenario.name !== 'poison')
    notes.push('the job ended before the fault was injected');
  if (results.strange > 0) notes.push(`${results.strange} output lines that are no result of this job`);
  if (results.failureSamples.length > 0 && results.failedInnocent > 0)
    notes.push(`failures: ${results.failureSamples[0]}`);
  const chart = `${scenario.name}-${backend.name}.svg`;
  writeFileSync(
    join(settings.out, chart),
    throughputSvg(
      `${scenario.name} on ${backend.name}: ${settings.tasks} tasks, ${settings.workers} workers`,
      results.times,
      faults,
    ),
  );
  const lost = tasks.length - results.distinct;
  const duplicated = results.duplicated;
  const recovery = recoveryMs(results.times, faults, tasks.length, results.distinct);
  return {
    ...base,
    submitted: tasks.length,
    results: results.lines,
    ok: results.ok,
    poisonFailed,
    poisonTotal: poisonIds.size,
    otherFailed: results.failedInnocent,
    lost,
    duplicated,
    ...(recovery !== undefined ? { recoveryMs: recovery } : {}),
    elapsedMs,
    workerDeaths: workers.deaths,
    master: describeExit(end),
    notes,
    chart,
    passed:
      lost === 0 &&
      duplicated === 0 &&
      results.failedInnocent === 0 &&
      poisonFailed === poisonIds.size &&
      results.strange === 0 &&
      !failedOtherwise &&
      !end.timedOut,
  };
}

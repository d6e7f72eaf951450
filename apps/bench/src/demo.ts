import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { median, parseArgs, printTable } from './util.js';

/** Peak resident set (VmHWM) of a process in MiB, or 0 once it is gone. */
function peakRssMiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return kb / 1024;
  } catch {
    return 0;
  }
}

/** Child process ids of `pid` (the master's local workers). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

interface DemoRun {
  tasksPerSecond: number;
  masterMiB: number;
  workerMiB: number;
}

/** One `taskwire-master --workers 2 --tasks N` run, sampling the processes' peak RSS. */
async function runDemo(master: string, tasks: number, transportArgs: string[]): Promise<DemoRun> {
  const child = spawn(
    process.execPath,
    [
      master,
      '--workers',
      '2',
      '--tasks',
      String(tasks),
      '--progress',
      '--queue',
      `bench-demo-${Date.now()}`,
      ...transportArgs,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const peaks = new Map<number, number>();
  const sample = setInterval(() => {
    for (const pid of [child.pid!, ...childrenOf(child.pid!)]) {
      peaks.set(pid, Math.max(peaks.get(pid) ?? 0, peakRssMiB(pid)));
    }
  }, 100);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearInterval(sample);
  const summary = /done (\d+), failed (\d+), elapsed ([\d.]+)s, (\d+) tasks\/s/.exec(stderr);
  if (code !== 0 || !summary)
    throw new Error(`demo failed (exit ${code}): ${stderr.trim().split('\n').at(-1)}`);
  const workerPeaks = [...peaks.entries()].filter(([pid]) => pid !== child.pid).map(([, mib]) => mib);
  return {
    tasksPerSecond: Number(summary[4]),
    masterMiB: peaks.get(child.pid!) ?? 0,
    workerMiB: Math.max(0, ...workerPeaks),
  };
}

/**
 * `pnpm bench demo [--tasks 100000] [--runs 3] [--transports tcp,redis,rabbitmq]`: the demo job
 * (`taskwire-master --workers 2`) on each transport, side by side: tasks/s and peak RSS of the
 * master and of the larger worker.
 */
export async function main(args: string[]): Promise<void> {
  const options = parseArgs(args);
  const tasks = Number(options.tasks ?? 100_000);
  const runs = Number(options.runs ?? 3);
  const transports = String(options.transports ?? 'tcp,redis,rabbitmq').split(',');
  const master = createRequire(import.meta.url)
    .resolve('taskwire-master/package.json')
    .replace(/package\.json$/, 'dist/cli.js');
  const transportArgs: Record<string, string[]> = {
    tcp: ['--port', '0'],
    redis: ['--transport', 'redis://127.0.0.1:6379'],
    rabbitmq: ['--transport', 'amqp://guest:guest@127.0.0.1:5672'],
  };
  const results = new Map<string, DemoRun[]>(transports.map((t) => [t, []]));
  for (let run = 0; run < runs; run++) {
    for (const transport of transports) {
      results
        .get(transport)!
        .push(await runDemo(master, tasks, transportArgs[transport] ?? ['--transport', transport]));
    }
  }
  printTable(
    `taskwire-master --workers 2 --tasks ${tasks.toLocaleString('en-US')} — ${runs} runs per transport, alternating (medians)`,
    [...results].map(([transport, runsOf]) => ({
      transport,
      'tasks/s': Math.round(median(runsOf.map((r) => r.tasksPerSecond))).toLocaleString('en-US'),
      'master peak RSS MiB': Math.round(median(runsOf.map((r) => r.masterMiB))),
      'worker peak RSS MiB': Math.round(median(runsOf.map((r) => r.workerMiB))),
      'all runs tasks/s': runsOf.map((r) => r.tasksPerSecond).join(' / '),
    })),
  );
}

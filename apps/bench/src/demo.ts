import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { broadcastChannelOf, deadLetterQueueOf, resolveTransport } from '@taskwire/core';
import amqplib from 'amqplib';
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

/** Remove what a run left on a broker: the task queue, its dead-letter queue, RabbitMQ's exchanges. */
async function cleanup(transport: string, url: string | undefined, queue: string): Promise<void> {
  if (!url) return; // the TCP manager's queues died with the master
  const resolved = await resolveTransport(transport, { importModule: (specifier) => import(specifier) });
  const connection = await resolved.connect({ url });
  try {
    for (const name of [queue, deadLetterQueueOf(queue)]) await (await connection.queue(name)).delete();
  } finally {
    await connection.close();
  }
  if (transport === 'rabbitmq') {
    const amqp = await amqplib.connect(url);
    const channel = await amqp.createChannel();
    await channel.deleteExchange(`taskwire.broadcast.${broadcastChannelOf(queue)}`);
    await amqp.close();
  }
}

/**
 * Get every metrics endpoint the job's processes printed (`metrics on <url>`, in `stderr()`) every `everyMs`, as
 * Prometheus would; returns the function that stops.
 */
function scrapeEvery(everyMs: number, stderr: () => string): () => void {
  const timer = setInterval(() => {
    for (const [, url] of stderr().matchAll(/metrics on (http:\/\/\S+)/g)) {
      fetch(url!).then(
        (response) => response.arrayBuffer(),
        () => undefined, // a process that has just exited
      );
    }
  }, everyMs);
  return () => clearInterval(timer);
}

/**
 * One `taskwire-master --workers 2 --tasks N` run, sampling the processes' peak RSS; with `scrapeMs`, their metrics
 * endpoints are scraped that often.
 */
async function runDemo(
  master: string,
  tasks: number,
  transportArgs: string[],
  queue: string,
  scrapeMs?: number,
): Promise<DemoRun> {
  const child = spawn(
    process.execPath,
    [master, '--workers', '2', '--tasks', String(tasks), '--progress', '--queue', queue, ...transportArgs],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const stopScraping = scrapeMs ? scrapeEvery(scrapeMs, () => stderr) : undefined;
  const peaks = new Map<number, number>();
  const sample = setInterval(() => {
    for (const pid of [child.pid!, ...childrenOf(child.pid!)]) {
      peaks.set(pid, Math.max(peaks.get(pid) ?? 0, peakRssMiB(pid)));
    }
  }, 100);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearInterval(sample);
  stopScraping?.();
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
 * `pnpm bench demo [--tasks 100000] [--runs 3] [--transports tcp,redis,rabbitmq,nats,postgres] [--metrics [--scrape <ms>]]`: the demo job
 * (`taskwire-master --workers 2`) on each transport, side by side: tasks/s and peak RSS of the
 * master and of the larger worker. With `--metrics`, each run is made twice in a row, without and with
 * `--metrics-port 0` (the master and its local workers each serving /metrics; which goes first alternates, so a
 * drift in the machine's load weighs on both alike), and the table adds the ratio. `--scrape <ms>` also gets every
 * endpoint that often during the runs with metrics (nothing scrapes them otherwise).
 */
export async function main(args: string[]): Promise<void> {
  const options = parseArgs(args);
  const tasks = Number(options.tasks ?? 100_000);
  const runs = Number(options.runs ?? 3);
  const transports = String(options.transports ?? 'tcp,redis,rabbitmq,nats,postgres').split(',');
  const master = createRequire(import.meta.url)
    .resolve('taskwire-master/package.json')
    .replace(/package\.json$/, 'dist/cli.js');
  const urls: Record<string, string | undefined> = {
    tcp: undefined,
    redis: 'redis://127.0.0.1:6379',
    rabbitmq: 'amqp://guest:guest@127.0.0.1:5672',
    postgres: 'postgres://postgres@127.0.0.1:5432/test?schema=taskwire_bench',
    nats: 'nats://127.0.0.1:4222',
  };
  const modes = options.metrics ? ['', ' +metrics'] : [''];
  const scrapeMs = options.scrape === undefined ? undefined : Number(options.scrape);
  if (scrapeMs !== undefined && !(scrapeMs > 0)) throw new Error('--scrape takes milliseconds, more than 0');
  const results = new Map<string, DemoRun[]>(
    transports.flatMap((t) => modes.map((mode): [string, DemoRun[]] => [`${t}${mode}`, []])),
  );
  for (let run = 0; run < runs; run++) {
    for (const transport of transports) {
      for (const mode of run % 2 === 0 ? modes : [...modes].reverse()) {
        const queue = `bench-demo-${Date.now().toString(36)}`;
        const url = urls[transport];
        const args = url ? ['--transport', url] : ['--port', '0'];
        if (mode) args.push('--metrics-port', '0');
        try {
          results
            .get(`${transport}${mode}`)!
            .push(await runDemo(master, tasks, args, queue, mode ? scrapeMs : undefined));
        } finally {
          await cleanup(transport, url, queue);
        }
      }
    }
  }
  const medianRate = (runsOf: DemoRun[]) => median(runsOf.map((r) => r.tasksPerSecond));
  printTable(
    `taskwire-master --workers 2 --tasks ${tasks.toLocaleString('en-US')} — ${runs} runs per transport, alternating (medians)${scrapeMs ? `; metrics scraped every ${scrapeMs} ms` : ''}`,
    [...results].map(([label, runsOf]) => ({
      transport: label,
      'tasks/s': Math.round(medianRate(runsOf)).toLocaleString('en-US'),
      ...(options.metrics
        ? {
            'vs off': label.endsWith(' +metrics')
              ? `${((medianRate(runsOf) / medianRate(results.get(label.replace(' +metrics', ''))!) - 1) * 100).toFixed(1)} %`
              : '',
          }
        : {}),
      'master peak RSS MiB': Math.round(median(runsOf.map((r) => r.masterMiB))),
      'worker peak RSS MiB': Math.round(median(runsOf.map((r) => r.workerMiB))),
      'all runs tasks/s': runsOf.map((r) => r.tasksPerSecond).join(' / '),
    })),
  );
}

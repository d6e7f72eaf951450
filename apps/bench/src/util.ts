import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { DistributedQueue } from '@taskwire/core';

/** Median of a non-empty list. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Format a rate like `123,456/s`. */
export const rate = (count: number, ms: number) =>
  `${Math.round((count * 1000) / ms).toLocaleString('en-US')}/s`;

/** Parse `--key value` / `--flag` arguments into a record. */
export function parseArgs(args: string[]): Record<string, string | true> {
  const out: Record<string, string | true> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) continue;
    const next = args[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      out[arg.slice(2)] = next;
      i++;
    } else out[arg.slice(2)] = true;
  }
  return out;
}

/** Fork a bench script from this folder (e.g. `tcp-worker.js`) with arguments. */
export function forkScript(script: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const path = fileURLToPath(new URL(`./${script}`, import.meta.url));
  return fork(path, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/** Resolve when the child exits; reject on a non-zero code. */
export function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', (code, signal) =>
      code === 0 || signal === 'SIGTERM'
        ? resolve()
        : reject(new Error(`child exited with ${code ?? signal}`)),
    );
  });
}

/** Sample this process's RSS every 50 ms; `stop()` returns the peak in MiB. */
export function trackPeakRss(): { stop(): number } {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  return {
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage().rss);
      return peak / 1024 / 1024;
    },
  };
}

/** Print a results table with one line per row. */
export function printTable(title: string, rows: Record<string, string | number>[]): void {
  console.log(`\n${title}`);
  console.table(rows);
}

/** Fork a bench worker script and wait for its 'ready' message. */
export async function startWorker(script: string, args: string[]): Promise<ChildProcess> {
  const worker = forkScript(script, args);
  const [message] = await Promise.race([
    once(worker, 'message'),
    once(worker, 'exit').then(() => {
      throw new Error(`${script} exited before it was ready`);
    }),
  ]);
  if (message !== 'ready') throw new Error(`${script} said ${String(message)}`);
  return worker;
}

/** Ask a bench worker to stop and wait for it to exit. */
export async function stopWorker(worker: ChildProcess): Promise<void> {
  worker.send('stop');
  await exited(worker);
}

/**
 * The taskwire master side of the transport benches: consume results, put `count` tiny tasks in
 * one batch, and resolve with the milliseconds until every result was read back and acked.
 */
export async function timeRoundTrip(
  tasks: DistributedQueue<{ n: number }>,
  results: DistributedQueue<unknown>,
  count: number,
  prefetch: number,
): Promise<number> {
  let received = 0;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const started = performance.now();
  await results.consume(
    (delivery) => {
      void delivery.ack();
      if (++received === count) finish();
    },
    { prefetch },
  );
  await tasks.putMany(Array.from({ length: count }, (_, n) => ({ n })));
  await done;
  return performance.now() - started;
}

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, parseArgs, printTable } from './util.js';

const HANDLER = fileURLToPath(new URL('./cpu-handler.js', import.meta.url));

/** One `taskwire-master --workers 1` job over the input; its tasks/s from the master's summary line. */
async function runJob(master: string, input: string, extra: string[]): Promise<number> {
  const child = spawn(
    process.execPath,
    [master, '--port', '0', '--workers', '1', '--handler', HANDLER, '--input', input, '--progress', ...extra],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const summary = /done (\d+), failed (\d+), elapsed ([\d.]+)s/.exec(stderr);
  if (code !== 0 || !summary)
    throw new Error(`job failed (exit ${code}): ${stderr.trim().split('\n').at(-1)}`);
  return Number(summary[1]) / Number(summary[3]);
}

/**
 * `pnpm bench cpu [--tasks 600] [--n 30] [--runs 3] [--threads <cores>]`: a CPU-bound handler (naive
 * fib(n)) through `taskwire-master --workers 1`, in the worker's thread (`--isolate none`) and in a
 * thread pool (`--isolate threads`), alternating; medians and the ratio.
 */
export async function main(args: string[]): Promise<void> {
  const options = parseArgs(args);
  const tasks = Number(options.tasks ?? 600);
  const n = Number(options.n ?? 30);
  const runs = Number(options.runs ?? 3);
  const threads = Number(options.threads ?? availableParallelism());
  const master = createRequire(import.meta.url)
    .resolve('taskwire-master/package.json')
    .replace(/package\.json$/, 'dist/cli.js');
  const dir = mkdtempSync(join(tmpdir(), 'taskwire-bench-cpu-'));
  const input = join(dir, 'input.jsonl');
  writeFileSync(input, `${String(n)}\n`.repeat(tasks));
  const modes: [string, string[]][] = [
    ['--isolate none', []],
    [`--isolate threads --threads ${threads}`, ['--isolate', 'threads', '--threads', String(threads)]],
  ];
  const results = new Map<string, number[]>(modes.map(([label]) => [label, []]));
  try {
    for (let run = 0; run < runs; run++) {
      for (const [label, extra] of modes) results.get(label)!.push(await runJob(master, input, extra));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const base = median(results.get(modes[0]![0])!);
  printTable(
    `taskwire-master --workers 1, ${tasks} tasks of fib(${n}) — ${runs} runs per mode, alternating (medians; ${availableParallelism()} cores)`,
    [...results].map(([mode, rates]) => ({
      mode,
      'tasks/s': Math.round(median(rates)),
      'vs none': `${(median(rates) / base).toFixed(2)}×`,
      'all runs tasks/s': rates.map((r) => Math.round(r)).join(' / '),
    })),
  );
}

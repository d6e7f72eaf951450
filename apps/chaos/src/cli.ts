// pnpm chaos: fault scenarios against the real taskwire-master and taskwire-worker on every
// transport; prints the table and writes it with the throughput charts into --out.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { TRANSPORTS } from './backends.js';
import { runChaos } from './chaos.js';
import { resultTable } from './report.js';
import { SCENARIO_NAMES } from './scenarios.js';

const USAGE = `usage: pnpm chaos [options]
  --transports <list>   ${TRANSPORTS.join(',')} (default: all)
  --scenarios <list>    ${SCENARIO_NAMES.join(',')} (default: all)
  --tasks <n>           tasks per cell (default 20000)
  --workers <n>         worker processes (default 3)
  --out <dir>           where summary.md, the charts and logs go (default chaos-results)
  --fuzz-frames <n>     hostile frames of the fuzz scenario (default 1000000)
  --task-ms <ms>        simulated work per task (default 1)
  --stall-ms, --cut-ms, --broker-down-ms <ms>   fault durations (default 5000, 3000, 3000)
Exits 1 when a cell misses the target (anything lost or duplicated, a poison task that did not fail,
another task that did).`;

function list<T extends string>(value: string | undefined, known: readonly T[], flag: string): T[] {
  if (value === undefined) return [...known];
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  for (const item of items) {
    if (!known.includes(item as T))
      throw new Error(`${flag}: unknown "${item}" (known: ${known.join(', ')})`);
  }
  return items as T[];
}

function count(value: string | undefined, fallback: number, flag: string, min = 1): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < min)
    throw new Error(`${flag}: expected an integer ≥ ${min}, got "${value}"`);
  return number;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      transports: { type: 'string' },
      scenarios: { type: 'string' },
      tasks: { type: 'string' },
      workers: { type: 'string' },
      out: { type: 'string' },
      'fuzz-frames': { type: 'string' },
      'task-ms': { type: 'string' },
      'stall-ms': { type: 'string' },
      'cut-ms': { type: 'string' },
      'broker-down-ms': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const out = resolve(values.out ?? 'chaos-results');
  const workers = count(values.workers, 3, '--workers');
  const results = await runChaos({
    transports: list(values.transports, TRANSPORTS, '--transports'),
    scenarios: list(values.scenarios, SCENARIO_NAMES, '--scenarios'),
    tasks: count(values.tasks, 20_000, '--tasks', 10),
    workers,
    out,
    fuzzFrames: count(values['fuzz-frames'], 1_000_000, '--fuzz-frames'),
    taskMs: count(values['task-ms'], 1, '--task-ms', 0),
    stallMs: count(values['stall-ms'], 5000, '--stall-ms', 0),
    cutMs: count(values['cut-ms'], 3000, '--cut-ms', 0),
    brokerDownMs: count(values['broker-down-ms'], 3000, '--broker-down-ms', 0),
    concurrency: 16,
    prefetch: 64,
    command: ['pnpm chaos', ...process.argv.slice(2)].join(' '),
    onCell: (cell) =>
      console.error(
        cell.notApplicable
          ? `chaos: ${cell.scenario} on ${cell.transport}: n/a (${cell.notApplicable})`
          : `chaos: ${cell.scenario} on ${cell.transport}: ${cell.passed ? 'pass' : 'FAIL'} (lost ${cell.lost}, duplicated ${cell.duplicated}, ${(cell.elapsedMs / 1000).toFixed(1)} s)`,
      ),
  });
  console.log(resultTable(results));
  console.log(`\nsummary and charts: ${out}/summary.md`);
  return results.every((result) => result.passed) ? 0 : 1;
}

// Exit explicitly once the table is out: after many sockets reset by the fault proxy, Node 20
// sometimes spins for ever in its exit-time handle cleanup (uv_run inside CleanupHandles), with
// nothing of the run left to do.
main().then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(`chaos: ${error.message}`);
    process.exit(2);
  },
);

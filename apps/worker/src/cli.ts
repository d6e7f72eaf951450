#!/usr/bin/env node
import {
  addCommonOptions,
  addIsolationOptions,
  addMetricsOptions,
  createProgram,
  integer,
  receiveHandoff,
  runProgram,
  seconds,
} from '@taskwire/cli-kit';
import { runWorker } from './run.js';

const program = addMetricsOptions(
  addIsolationOptions(
    addCommonOptions(
      createProgram({
        name: 'taskwire-worker',
        description: 'Take tasks from a taskwire task queue, run a handler, send results back.',
        packageJson: new URL('../package.json', import.meta.url),
      }),
    ),
  ),
)
  .option(
    '--handler <spec>',
    'built-in handler (square, echo, sleep) or a module whose default export is the handler',
    'square',
  )
  .option(
    '--concurrency <n>',
    'tasks run at once (default 16; with --isolate threads, the thread count)',
    integer(1),
  )
  .option('--prefetch <n>', 'tasks fetched ahead of the running ones (lower it for long tasks)', integer(1))
  .option('--idle-exit <seconds>', 'exit 0 when no task came for this long', seconds)
  .option('--name <name>', 'worker name reported in results');

// A worker taskwire-master forked gets its arguments over IPC once the master knows them.
await runProgram(program, runWorker, await receiveHandoff());

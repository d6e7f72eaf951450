#!/usr/bin/env node
import { createRequire } from 'node:module';
import { Command, InvalidArgumentError } from 'commander';
import { addCommonOptions, exitWithError } from './common.js';
import { addIsolationOptions } from './isolation.js';
import { runWorker } from './run.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

const positiveInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be an integer ≥ 1');
  return n;
};
const seconds = (value: string) => {
  const n = Number(value);
  if (!(n >= 0)) throw new InvalidArgumentError('must be a number of seconds ≥ 0');
  return n;
};

const program = addIsolationOptions(
  addCommonOptions(
    new Command('taskwire-worker')
      .description('Take tasks from a taskwire task queue, run a handler, send results back.')
      .version(version),
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
    positiveInt,
  )
  .option('--prefetch <n>', 'tasks fetched ahead of the running ones (lower it for long tasks)', positiveInt)
  .option('--idle-exit <seconds>', 'exit 0 when no task came for this long', seconds)
  .option('--name <name>', 'worker name reported in results')
  .showHelpAfterError('(run with --help for usage)');

try {
  program.parse();
  process.exit(await runWorker(program.opts()));
} catch (error) {
  exitWithError('taskwire-worker', error);
}

#!/usr/bin/env node
import { createRequire } from 'node:module';
import { Command, InvalidArgumentError } from 'commander';
import { addCommonOptions, addIsolationOptions, exitWithError } from 'taskwire-worker';
import { runMaster } from './run.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

const integer =
  (min: number, max = Number.MAX_SAFE_INTEGER) =>
  (value: string) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER
          ? `must be an integer ≥ ${min}`
          : `must be an integer from ${min} to ${max}`,
      );
    }
    return n;
  };

const program = addCommonOptions(
  new Command('taskwire-master')
    .description(
      'Split a job into tasks, hand them to workers, collect the results. With no --input it runs the demo: random integers squared by the workers.',
    )
    .version(version),
)
  .option('--tasks <n>', 'demo: number of tasks', integer(0), 10)
  .option('--input <file>', "one JSON payload per line ('-' for stdin)")
  .option('--output <file>', "one JSON result per line, in completion order ('-' for stdout)")
  .option('--workers <k>', 'also start K local worker processes', integer(0), 0)
  .option('--handler <spec>', 'handler of the local workers (square, echo, sleep, or a module)', 'square')
  .option('--concurrency <n>', 'concurrency of each local worker', integer(1))
  .option('--host <host>', 'embedded TCP manager interface (default 127.0.0.1)')
  .option('--port <port>', 'embedded TCP manager port (default 5555)', integer(0, 65535))
  .option('--tls-cert <file>', 'serve tcps:// with this certificate (PEM)')
  .option('--tls-key <file>', 'private key of --tls-cert (PEM)')
  .option('--no-serve', 'connect to a standalone TCP manager instead of hosting the queues')
  .option('--window <n>', 'tasks outstanding at once', integer(1), 1000)
  .option('--max-attempts <n>', 'attempts per task before it fails', integer(1), 3)
  .option('--progress', 'always show the progress bar')
  .option('--no-progress', "print the seed's per-task lines instead of a progress bar")
  .showHelpAfterError('(run with --help for usage)');

// Handler isolation and timeout of the local workers.
addIsolationOptions(program);

try {
  program.parse();
  process.exit(await runMaster(program.opts()));
} catch (error) {
  exitWithError('taskwire-master', error);
}

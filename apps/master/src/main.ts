import {
  addCommonOptions,
  addIsolationOptions,
  addMetricsOptions,
  createProgram,
  integer,
  runProgram,
} from '@taskwire/cli-kit';
import { runMaster } from './run.js';

const program = addCommonOptions(
  createProgram({
    name: 'taskwire-master',
    description:
      'Split a job into tasks, hand them to workers, collect the results. With no --input it runs the demo: random integers squared by the workers.',
    packageJson: new URL('../package.json', import.meta.url),
  }),
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
  .option('--no-progress', "print the seed's per-task lines instead of a progress bar");

// Handler isolation and timeout of the local workers.
addIsolationOptions(program);
addMetricsOptions(program);

await runProgram(program, runMaster);

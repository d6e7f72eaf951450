#!/usr/bin/env node
import {
  addCommonOptions,
  createLogger,
  createProgram,
  exitWithError,
  integer,
  type LogFlags,
  seconds,
} from '@taskwire/cli-kit';
import type { Command } from 'commander';
import { dead, migrate, peek, purge, queues, stats, workers } from './commands.js';
import { dashboard } from './dashboard-command.js';
import { metrics } from './metrics-command.js';

const program = createProgram({
  name: 'taskwire',
  description:
    'Inspect and steer taskwire queues and workers on any transport: counts, items, dead letters, a web dashboard.',
  packageJson: new URL('../package.json', import.meta.url),
});

/** A subcommand with the shared connection flags and `--json`, whose action's resolved number is the exit code. */
function command<Args extends unknown[]>(
  spec: string,
  description: string,
  action: (...args: Args) => Promise<number>,
): Command {
  const sub = addCommonOptions(program.command(spec).description(description)).option(
    '--json',
    'machine-readable output',
  );
  sub.action(async (...received: unknown[]) => {
    // commander passes the arguments, then the options, then the command.
    const args = received.slice(0, -1) as Args;
    try {
      // First: it decides how everything after it, errors included, is logged.
      await createLogger('taskwire', received.at(-2) as LogFlags);
      process.exit(await action(...args));
    } catch (error) {
      exitWithError('taskwire', error);
    }
  });
  return sub;
}

command('queues', 'list the queues with their counts', queues);
command('stats [queue]', "a queue's counts by state (default: --queue, else tasks)", stats)
  .option('--watch', 'print them again every --interval seconds until Ctrl-C')
  .option('--interval <seconds>', 'seconds between two prints with --watch (default 2)', seconds);
command('peek [queue]', 'show items without taking them', peek).option(
  '-n, --limit <n>',
  'most items shown (default 10)',
  integer(1, 1000),
);
command('workers', 'list the live workers', workers).option(
  '--wait <seconds>',
  'listen for their answers this long (default 1)',
  seconds,
);
command('dead [queue]', "show a queue's dead-letter queue, requeue its items or purge it", dead)
  .option('--requeue', 'move dead items back to the queue (all, or --ids / --limit)')
  .option('--ids <a,b>', 'with --requeue: only these item ids', (value: string) =>
    value.split(',').filter((id) => id !== ''),
  )
  .option('--limit <n>', 'with --requeue: at most this many items', integer(1))
  .option('--purge', 'remove every dead item (asks first)')
  .option('-y, --yes', 'do not ask before purging');
command('purge [queue]', 'remove every waiting item of a queue (asks first)', purge).option(
  '-y, --yes',
  'do not ask (required when stdin is not a terminal)',
);
command('migrate', "apply the transport's schema migrations (transports that keep a schema)", migrate);
command('dashboard', 'serve the web dashboard', dashboard)
  .option('--host <host>', 'interface to listen on; anything but loopback requires --token', '127.0.0.1')
  .option('--port <port>', 'port (0: any free one; default 7733)', integer(0, 65535))
  .option('--token <token>', 'required on every API request (or TASKWIRE_DASHBOARD_TOKEN)')
  .option('--interval <seconds>', 'seconds between two samples of the backend (default 2)', seconds);
command(
  'metrics',
  'serve Prometheus metrics of the whole transport: queue depth by state, live workers',
  metrics,
)
  .option('--host <host>', 'interface to listen on', '127.0.0.1')
  .option('--port <port>', 'port (0: any free one; default 9464)', integer(0, 65535))
  .option(
    '--queues <a,b>',
    'queues whose depth is reported (default: every queue the transport lists)',
    (value: string) => value.split(',').filter((name) => name !== ''),
  );

await program.parseAsync();

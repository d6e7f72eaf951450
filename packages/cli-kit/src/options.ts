import { findTransport, knownTransports } from '@taskwire/core';
import { type Command, Option } from 'commander';
import { addLogOptions, type LogFlags } from './log-options.js';
import { integer } from './program.js';

/** Flags every taskwire CLI that reaches a backend shares (the logging flags too). */
export interface CommonFlags extends LogFlags {
  transport?: string;
  url?: string;
  authkey?: string;
  authkeyFile?: string;
  tlsCa?: string;
  queue?: string;
  config?: string;
}

/** The default URL of every registered transport, for the help. */
function defaultUrls(): string[] {
  return knownTransports().flatMap((name) => findTransport(name)?.defaultUrl ?? []);
}

/**
 * Add the shared flags (transport, url, authkey, tls-ca, queue, config, and the logging flags of
 * {@link addLogOptions}) to a commander program.
 */
export function addCommonOptions(program: Command): Command {
  return addLogOptions(program)
    .addOption(
      new Option(
        '--transport <spec>',
        'tcp (default), memory, redis, rabbitmq, nats, a URL whose scheme names one, or a package / file exporting a transport',
      ),
    )
    .option('--url <url>', `backend address (defaults: ${defaultUrls().join(', ')})`)
    .option('--authkey <key>', 'TCP manager shared secret (or TASKWIRE_AUTHKEY)')
    .option('--authkey-file <path>', 'file holding the authkey')
    .option('--tls-ca <file>', 'tcps://: trust this CA (or self-signed) certificate (or TASKWIRE_TLS_CA)')
    .option('--queue <name>', 'task queue name (default: tasks)')
    .option('--config <path>', 'JSON config file (default: ./taskwire.config.json if present)');
}

/** The metrics flags of taskwire-master and taskwire-worker. */
export interface MetricsFlags {
  /** Serve Prometheus metrics on this port (0: a free one, printed). Off when unset. */
  metricsPort?: number;
  /** Interface of the metrics endpoint. @default '127.0.0.1' */
  metricsHost?: string;
}

/** Add `--metrics-port` and `--metrics-host` to a commander program. */
export function addMetricsOptions(program: Command): Command {
  return program
    .option(
      '--metrics-port <port>',
      'serve Prometheus metrics on http://<metrics-host>:<port>/metrics (0: a free port, printed)',
      integer(0, 65535),
    )
    .option('--metrics-host <host>', 'interface of the metrics endpoint (default 127.0.0.1)');
}

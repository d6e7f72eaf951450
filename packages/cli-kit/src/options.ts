import { findTransport, knownTransports } from '@taskwire/core';
import { type Command, Option } from 'commander';
import { addLogOptions, type LogFlags } from './log-options.js';

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

#!/usr/bin/env node
// taskwire-tcp-server: run the TCP manager on its own. Flags are parsed and validated like the
// taskwire-master and taskwire-worker CLIs: bad input is one line on stderr and exit code 2.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ConfigError, TaskwireError } from '@taskwire/core';
import { Command, InvalidArgumentError } from 'commander';
import { serve } from './server.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

const integer =
  (min: number, max = Number.MAX_SAFE_INTEGER) =>
  (value: string) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`must be an integer from ${min} to ${max}`);
    }
    return n;
  };

interface Flags {
  host: string;
  port: number;
  authkey?: string;
  authkeyFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  maxFrameBytes?: number;
  maxConnections?: number;
}

const program = new Command('taskwire-tcp-server')
  .description('Run the taskwire TCP manager on its own: workers and masters (--no-serve) connect to it.')
  .version(version)
  .option('--host <host>', 'interface to listen on', '127.0.0.1')
  .option('--port <port>', 'port to listen on (0: any free one)', integer(0, 65535), 5555)
  .option('--authkey <key>', 'shared secret (or TASKWIRE_AUTHKEY; a file keeps it out of `ps`)')
  .option('--authkey-file <path>', 'file holding the shared secret (or TASKWIRE_AUTHKEY_FILE)')
  .option('--tls-cert <file>', 'serve tcps:// with this certificate (PEM)')
  .option('--tls-key <file>', 'private key of --tls-cert (PEM)')
  .option('--max-frame-bytes <n>', 'largest frame a client may send', integer(1024))
  .option('--max-connections <n>', 'most simultaneous connections', integer(1))
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));

function read(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new ConfigError(`cannot read ${what} ${path}: ${(error as NodeJS.ErrnoException).code}`);
  }
}

/** The key from the strongest source: a flag, then the environment (`authkey` and its file are one setting). */
function authkeyOf(flags: Flags): string {
  const fromFile = (path: string) =>
    read(path, 'authkey file')
      .toString('utf8')
      .replace(/\r?\n$/, '');
  if (flags.authkey) return flags.authkey;
  if (flags.authkeyFile) return fromFile(flags.authkeyFile);
  if (process.env.TASKWIRE_AUTHKEY) return process.env.TASKWIRE_AUTHKEY;
  if (process.env.TASKWIRE_AUTHKEY_FILE) return fromFile(process.env.TASKWIRE_AUTHKEY_FILE);
  throw new ConfigError(
    'the TCP manager needs an authkey: pass --authkey, --authkey-file or set TASKWIRE_AUTHKEY',
  );
}

try {
  const flags = program.parse().opts<Flags>();
  if (Boolean(flags.tlsCert) !== Boolean(flags.tlsKey)) {
    throw new ConfigError('TLS needs both --tls-cert and --tls-key');
  }
  const server = await serve({
    host: flags.host,
    port: flags.port,
    authkey: authkeyOf(flags),
    tls:
      flags.tlsCert && flags.tlsKey
        ? { cert: read(flags.tlsCert, 'certificate'), key: read(flags.tlsKey, 'private key') }
        : undefined,
    maxFrameBytes: flags.maxFrameBytes,
    maxConnections: flags.maxConnections,
    onClientError: (error, remote) =>
      console.error(`taskwire-tcp-server: closed ${remote}: ${error.message}`),
  });
  console.log(`taskwire-tcp-server listening on ${server.url}`);
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (error) {
  console.error(`taskwire-tcp-server: error: ${error instanceof Error ? error.message : String(error)}`);
  if (process.env.TASKWIRE_DEBUG && error instanceof Error) console.error(error.stack);
  const usage = TaskwireError.isInstance(error) && ['TASKWIRE_CONFIG', 'TASKWIRE_AUTH'].includes(error.code);
  process.exit(usage ? 2 : 1);
}

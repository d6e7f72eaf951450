#!/usr/bin/env node
// taskwire-tcp-server: run the TCP manager on its own. Flags are parsed and validated like the
// taskwire-master and taskwire-worker CLIs (one kit): bad input is one line on stderr and exit code 2.
import { readFile } from 'node:fs/promises';
import {
  addLogOptions,
  createLogger,
  createProgram,
  integer,
  type LogFlags,
  readAuthkey,
  runProgram,
  seconds,
} from '@taskwire/cli-kit';
import { ConfigError } from '@taskwire/core';
import { serve } from './server.js';

interface Flags extends LogFlags {
  host: string;
  port: number;
  authkey?: string;
  authkeyFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  maxFrameBytes?: number;
  maxConnections?: number;
  maxUnauthenticated?: number;
  maxUnauthenticatedPerAddress?: number;
  handshakeTimeout?: number;
  maxOutputBytes?: number;
  stalledTimeout?: number;
  maxPrefetch?: number;
}

const program = addLogOptions(
  createProgram({
    name: 'taskwire-tcp-server',
    description: 'Run the taskwire TCP manager on its own: workers and masters (--no-serve) connect to it.',
    packageJson: new URL('../package.json', import.meta.url),
  }),
)
  .option('--host <host>', 'interface to listen on', '127.0.0.1')
  .option('--port <port>', 'port to listen on (0: any free one)', integer(0, 65535), 5555)
  .option('--authkey <key>', 'shared secret (or TASKWIRE_AUTHKEY; a file keeps it out of `ps`)')
  .option('--authkey-file <path>', 'file holding the shared secret (or TASKWIRE_AUTHKEY_FILE)')
  .option('--tls-cert <file>', 'serve tcps:// with this certificate (PEM)')
  .option('--tls-key <file>', 'private key of --tls-cert (PEM)')
  .option('--max-frame-bytes <n>', 'largest frame a client may send', integer(1024))
  .option('--max-connections <n>', 'most simultaneous authenticated connections (default 1024)', integer(1))
  .option(
    '--max-unauthenticated <n>',
    'most connections still in their handshake; the oldest makes room for a newcomer (default 512)',
    integer(1),
  )
  .option(
    '--max-unauthenticated-per-address <n>',
    'most connections in their handshake from one address (default 128)',
    integer(1),
  )
  .option(
    '--handshake-timeout <seconds>',
    'close a connection not authenticated by then (default 5)',
    seconds,
  )
  .option(
    '--max-output-bytes <n>',
    'unsent output to one client past which it gets no deliveries or broadcasts (default 16 MiB)',
    integer(1),
  )
  .option(
    '--stalled-timeout <seconds>',
    'drop a client past --max-output-bytes not drained within this time; its deliveries go back (default 30)',
    seconds,
  )
  .option('--max-prefetch <n>', 'largest prefetch window a consumer gets (default 10000)', integer(1));

function milliseconds(secondsValue: number | undefined): number | undefined {
  return secondsValue === undefined ? undefined : Math.max(1, Math.round(secondsValue * 1000));
}

async function read(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new ConfigError(`cannot read ${what} ${path}: ${(error as NodeJS.ErrnoException).code}`);
  }
}

/** The key from the strongest source: a flag, then the environment (`authkey` and its file are one setting). */
async function authkeyOf(flags: Flags): Promise<string> {
  const fromFlags = flags.authkey || flags.authkeyFile;
  const key = await readAuthkey(
    fromFlags
      ? flags
      : { authkey: process.env.TASKWIRE_AUTHKEY, authkeyFile: process.env.TASKWIRE_AUTHKEY_FILE },
  );
  if (key !== undefined) return key;
  throw new ConfigError(
    'the TCP manager needs an authkey: pass --authkey, --authkey-file or set TASKWIRE_AUTHKEY',
  );
}

await runProgram(program, async (flags: Flags) => {
  const log = await createLogger('taskwire-tcp-server', flags);
  if (Boolean(flags.tlsCert) !== Boolean(flags.tlsKey)) {
    throw new ConfigError('TLS needs both --tls-cert and --tls-key');
  }
  const server = await serve({
    host: flags.host,
    port: flags.port,
    authkey: await authkeyOf(flags),
    tls:
      flags.tlsCert && flags.tlsKey
        ? { cert: await read(flags.tlsCert, 'certificate'), key: await read(flags.tlsKey, 'private key') }
        : undefined,
    maxFrameBytes: flags.maxFrameBytes,
    maxConnections: flags.maxConnections,
    maxUnauthenticated: flags.maxUnauthenticated,
    maxUnauthenticatedPerAddress: flags.maxUnauthenticatedPerAddress,
    handshakeTimeoutMs: milliseconds(flags.handshakeTimeout),
    maxOutputBytes: flags.maxOutputBytes,
    stalledTimeoutMs: milliseconds(flags.stalledTimeout),
    maxPrefetch: flags.maxPrefetch,
    onClientError: (error, remote) =>
      log.warn(`closed ${remote}: ${error.message}`, { remote, code: (error as { code?: string }).code }),
  });
  // On stdout in either format: scripts read the address from it.
  console.log(`taskwire-tcp-server listening on ${server.url}`);
  if (log.format === 'json') log.info(`listening on ${server.url}`, { url: server.url });
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return undefined; // keep serving until a signal
});

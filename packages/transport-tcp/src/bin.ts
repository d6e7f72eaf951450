#!/usr/bin/env node
// taskwire-tcp-server: run the TCP manager on its own (the key comes from TASKWIRE_AUTHKEY or
// --authkey-file, never from the command line where `ps` would show it).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { TaskwireError } from '@taskwire/core';
import { serve } from './server.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '5555' },
    'authkey-file': { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'max-frame-bytes': { type: 'string' },
    'max-connections': { type: 'string' },
  },
});

try {
  const server = await serve({
    host: values.host,
    port: Number(values.port),
    authkeyFile: values['authkey-file'],
    tls:
      values['tls-cert'] && values['tls-key']
        ? { cert: readFileSync(values['tls-cert']), key: readFileSync(values['tls-key']) }
        : undefined,
    maxFrameBytes: values['max-frame-bytes'] ? Number(values['max-frame-bytes']) : undefined,
    maxConnections: values['max-connections'] ? Number(values['max-connections']) : undefined,
    onClientError: (error, remote) =>
      console.error(`taskwire-tcp-server: closed ${remote}: ${error.message}`),
  });
  console.log(`taskwire-tcp-server listening on ${server.url}`);
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (error) {
  console.error(`taskwire-tcp-server: ${TaskwireError.isInstance(error) ? error.message : String(error)}`);
  process.exit(1);
}

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConnectionClosedError } from '@taskwire/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createTcpTransport, serve } from '../src/index.js';

// A throwaway self-signed certificate for 127.0.0.1, made by openssl for this run.
const dir = mkdtempSync(join(tmpdir(), 'taskwire-tls-'));
execFileSync(
  'openssl',
  [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-keyout',
    join(dir, 'key.pem'),
    '-out',
    join(dir, 'cert.pem'),
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ],
  { stdio: 'ignore' },
);
const cert = readFileSync(join(dir, 'cert.pem'));
const key = readFileSync(join(dir, 'key.pem'));
const authkey = 'tls-key';
const server = await serve({ port: 0, authkey, tls: { cert, key } });
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true });
});

describe('tcps://', () => {
  it('round-trips over TLS with a certificate the client trusts', async () => {
    expect(server.url).toMatch(/^tcps:\/\/127\.0\.0\.1:\d+$/);
    const connection = await createTcpTransport().connect({ url: server.url, authkey, tls: { ca: cert } });
    const queue = await connection.queue<{ n: number }>('tls.roundtrip');
    await queue.putMany([{ n: 1 }, { n: 2 }]);
    const first = await queue.get({ timeoutMs: 2000 });
    const second = await queue.get({ timeoutMs: 2000 });
    expect([first.body, second.body]).toEqual([{ n: 1 }, { n: 2 }]);
    await first.ack();
    await second.ack();
    await connection.close();
  });

  it('refuses a server certificate it does not trust', async () => {
    const error = await createTcpTransport()
      .connect({ url: server.url, authkey })
      .catch((e) => e);
    expect(ConnectionClosedError.isInstance(error)).toBe(true);
    expect(error.message).toMatch(/SELF_SIGNED|self-signed/i);
  });

  it('a plain tcp:// client cannot talk to a TLS server', async () => {
    const error = await createTcpTransport()
      .connect({ url: server.url.replace('tcps:', 'tcp:'), authkey, connectTimeoutMs: 500 })
      .catch((e) => e);
    expect(ConnectionClosedError.isInstance(error)).toBe(true);
  });
});

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  freePort,
  inputFile,
  killAfterEach,
  MASTER_CLI,
  run,
  start,
  WORKER_CLI,
  waitFor,
} from './helpers.js';

// A throwaway self-signed certificate for 127.0.0.1, made by openssl for this run.
const { dir } = inputFile(0);
const cert = join(dir, 'cert.pem');
const key = join(dir, 'key.pem');
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
    key,
    '-out',
    cert,
    '-subj',
    '/CN=localhost',
  ].concat(['-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost']),
  { stdio: 'ignore' },
);

const track = killAfterEach();

describe('the TCP manager over TLS from the CLIs', () => {
  it('--tls-cert/--tls-key serve tcps:// and local workers trust the certificate', async () => {
    const { code, stdout, stderr } = await run(MASTER_CLI, [
      '--workers',
      '2',
      '--tasks',
      '20',
      '--port',
      String(await freePort()),
      '--tls-cert',
      cert,
      '--tls-key',
      key,
    ]);
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/serving tcps:\/\/127\.0\.0\.1:\d+/);
    expect(stdout.match(/^result \d+ \* \d+ = \d+$/gm)).toHaveLength(20);
  });

  it('a remote worker needs --tls-ca; without it the connection is refused in one line', async () => {
    const port = await freePort();
    const master = start(MASTER_CLI, [
      '--port',
      String(port),
      '--authkey',
      'k',
      '--tasks',
      '5',
      '--tls-cert',
      cert,
      '--tls-key',
      key,
    ]);
    track(master);
    await waitFor(() => /serving tcps/.test(master.stderr()), 10_000, 'the master to listen');
    const url = `tcps://127.0.0.1:${port}`;
    const refused = await run(WORKER_CLI, ['--url', url, '--authkey', 'k', '--idle-exit', '1']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/tcps:\/\/127\.0\.0\.1/);
    const trusted = start(WORKER_CLI, ['--url', url, '--authkey', 'k', '--tls-ca', cert, '--idle-exit', '1']);
    track(trusted);
    const { code } = await master.exit;
    expect(code, master.stderr()).toBe(0);
    expect(master.stderr()).toMatch(/done 5, failed 0/);
  });

  it('the master prints the whole worker command: tcps URL, --tls-ca and --authkey-file', async () => {
    const keyFile = join(dir, 'authkey');
    writeFileSync(keyFile, 'secret-key\n');
    const port = await freePort();
    const master = start(MASTER_CLI, [
      '--port',
      String(port),
      '--authkey-file',
      keyFile,
      '--tls-cert',
      cert,
      '--tls-key',
      key,
    ]);
    track(master);
    await waitFor(() => /serving tcps/.test(master.stderr()), 10_000, 'the master to listen');
    expect(master.stderr()).toContain(
      `taskwire-worker --url tcps://127.0.0.1:${port} --tls-ca ${cert} --authkey-file ${keyFile}`,
    );
  });

  it('a tcp:// worker against a tcps:// master is told it may need tcps://', async () => {
    const port = await freePort();
    const master = start(MASTER_CLI, [
      '--port',
      String(port),
      '--authkey',
      'k',
      '--tls-cert',
      cert,
      '--tls-key',
      key,
    ]);
    track(master);
    await waitFor(() => /serving tcps/.test(master.stderr()), 10_000, 'the master to listen');
    const { code, stderr } = await run(WORKER_CLI, ['--url', `tcp://127.0.0.1:${port}`, '--authkey', 'k']);
    expect(code).not.toBe(0);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/use a tcps:\/\/ URL/);
  }, 30_000);
});

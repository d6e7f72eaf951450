import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { connect as netConnect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createTcpTransport } from '../src/index.js';
import { waitFor } from './helpers.js';

// The connection and output limits reach serve() through taskwire-tcp-server's flags (the built command).
const CLI = fileURLToPath(new URL('../bin/taskwire-tcp-server.js', import.meta.url));
const children: ChildProcess[] = [];
const sockets: Socket[] = [];
afterAll(() => {
  for (const socket of sockets) socket.destroy();
  for (const child of children) child.kill('SIGKILL');
});

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const NEW_FLAGS = [
  '--max-unauthenticated',
  '--max-unauthenticated-per-address',
  '--handshake-timeout',
  '--max-output-bytes',
  '--stalled-timeout',
  '--max-prefetch',
];

describe('taskwire-tcp-server: connection and output limits', () => {
  it('--help lists the limits', async () => {
    const { code, stdout } = await runCli(['--help']);
    expect(code).toBe(0);
    for (const flag of NEW_FLAGS) expect(stdout).toContain(flag);
  });

  for (const flag of NEW_FLAGS.filter((f) => !f.endsWith('timeout'))) {
    it(`${flag} 0: exit 2, one error line`, async () => {
      const { code, stderr } = await runCli([flag, '0', '--authkey', 'k', '--port', '0']);
      expect(code, stderr).toBe(2);
      expect(stderr.split('\n')[0]).toContain(flag);
      expect(stderr).not.toMatch(/^\s+at /m);
    });
  }

  it('--max-unauthenticated-per-address reaches the server: silent sockets make room, a client with the key gets in', async () => {
    const child = spawn(
      process.execPath,
      [
        CLI,
        '--port',
        '0',
        '--authkey',
        'cli-key',
        '--max-unauthenticated-per-address',
        '2',
        '--handshake-timeout',
        '60',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    await waitFor(() => /listening on tcp:\/\/127\.0\.0\.1:\d+/.test(stdout), 10_000, 'the server to listen');
    const port = Number(/:(\d+)\s*$/m.exec(stdout)![1]);
    for (let i = 0; i < 5; i++) {
      const socket = netConnect({ host: '127.0.0.1', port });
      socket.on('error', () => undefined);
      sockets.push(socket);
      await new Promise((resolve) => socket.once('connect', resolve));
    }
    await waitFor(
      () => (stderr.match(/more than 2 handshakes from 127\.0\.0\.1/g) ?? []).length >= 3,
      10_000,
      'room made',
    );
    const connection = await createTcpTransport().connect({
      url: `tcp://127.0.0.1:${port}`,
      authkey: 'cli-key',
    });
    const queue = await connection.queue<number>(`cli-${process.pid}`);
    await queue.put(7);
    expect(await queue.size()).toBe(1);
    await connection.close();
  });
});

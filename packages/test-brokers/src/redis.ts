import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './free-port.js';

/** A redis-server of the caller's own on a free loopback port (never the shared one). */
export interface PrivateRedis {
  readonly url: string;
  /** The loopback port it listens on. */
  readonly port: number;
  /** SIGKILL it and start it again on the same port and directory. */
  restart(): Promise<void>;
  /** SIGKILL it (a restart is {@link kill} then {@link start}, for a server down for a while). */
  kill(): Promise<void>;
  /** `SHUTDOWN`: an operator's stop, which writes its persistence first (unlike {@link kill}). */
  shutdown(): Promise<void>;
  /** Start it again after {@link kill} or {@link shutdown}; resolves once it answers PING. */
  start(): Promise<void>;
  /** SIGKILL it and remove its directory. */
  stop(): Promise<void>;
}

/**
 * Start a private redis-server. `persistent` turns the append-only file on with an fsync per write,
 * so everything Redis acknowledged survives a SIGKILL; otherwise it keeps nothing on disk. `password`
 * starts it with `requirepass` (and puts the password in `url`).
 */
export async function startPrivateRedis(options: {
  persistent: boolean;
  password?: string;
}): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'taskwire-redis-private-'));
  const persistence = options.persistent
    ? ['--appendonly', 'yes', '--appendfsync', 'always', '--save', '']
    : ['--appendonly', 'no', '--save', ''];
  let server: ChildProcess | undefined;
  const start = async () => {
    server = spawn(
      'redis-server',
      [
        '--bind',
        '127.0.0.1',
        '--port',
        String(port),
        '--dir',
        dir,
        ...persistence,
        ...(options.password ? ['--requirepass', options.password] : []),
      ],
      {
        stdio: 'ignore',
      },
    );
    const client = new Redis({
      host: '127.0.0.1',
      port,
      password: options.password,
      lazyConnect: true,
      retryStrategy: () => null,
    });
    client.on('error', () => undefined);
    try {
      for (let attempt = 0; ; attempt++) {
        // Loading the append-only file answers PING with LOADING: wait for a real PONG.
        const pong = await client
          .connect()
          .then(() => client.ping())
          .catch(() => undefined);
        if (pong === 'PONG') return;
        if (attempt >= 200) throw new Error(`private redis-server on port ${port} did not start`);
        client.disconnect();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      client.disconnect();
    }
  };
  const kill = async () => {
    const running = server;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };
  const shutdown = async () => {
    const running = server;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    const admin = new Redis({
      host: '127.0.0.1',
      port,
      password: options.password,
      lazyConnect: true,
      retryStrategy: () => null,
    });
    admin.on('error', () => undefined);
    await admin.connect();
    await admin.call('SHUTDOWN').catch(() => undefined); // it closes the socket instead of replying
    admin.disconnect();
    await exited;
  };
  await start();
  return {
    url: options.password ? `redis://:${options.password}@127.0.0.1:${port}` : `redis://127.0.0.1:${port}`,
    port,
    restart: async () => {
      await kill();
      await start();
    },
    kill,
    shutdown,
    start,
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import { Redis } from 'ioredis';
import { freePort } from './helpers.js';

// Backends of a test's own on free loopback ports, which the broker-restart scenarios stop and start (the shared
// brokers are never stopped). The transports' own tests have fuller versions; a test here cannot import them
// (each package type-checks its own files).

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A private backend the test can stop and start. */
export interface PrivateBackend {
  readonly url: string;
  /** Stop gracefully: RabbitMQ `stop_app`, Redis `SHUTDOWN` (persistence written first). */
  stopGracefully(): Promise<void>;
  /** Start again after {@link stopGracefully}, on the same port and data. */
  startAgain(): Promise<void>;
  /** Stop for good and remove its files. */
  remove(): Promise<void>;
}

// As root, the packaged wrappers re-run themselves as the rabbitmq user, who cannot write the node's directory.
const RABBITMQ_BIN = existsSync('/usr/lib/rabbitmq/bin/rabbitmq-server') ? '/usr/lib/rabbitmq/bin/' : '';

/** A RabbitMQ node with its own name, ports, directory and cookie, no plugins. */
export async function privateRabbitMQ(): Promise<PrivateBackend> {
  const [port, distPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'taskwire-e2e-rabbitmq-'));
  writeFileSync(join(dir, 'rabbitmq.conf'), `listeners.tcp.1 = 127.0.0.1:${port}\n`);
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
  const nodename = `taskwire-e2e-${randomBytes(4).toString('hex')}@localhost`;
  const env = {
    ...process.env,
    HOME: dir,
    RABBITMQ_NODENAME: nodename,
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_PID_FILE: join(dir, 'pid'),
  };
  const url = `amqp://guest:guest@127.0.0.1:${port}`;
  const node: ChildProcess = spawn(`${RABBITMQ_BIN}rabbitmq-server`, [], {
    env,
    detached: true,
    stdio: 'ignore',
  });
  const reachable = async () => {
    for (let i = 0; i < 300; i++) {
      const connection = await amqp.connect(url, { timeout: 2000 }).catch(() => undefined);
      if (connection) return connection.close();
      if (node.exitCode !== null) throw new Error(`private RabbitMQ node exited with ${node.exitCode}`);
      await sleep(200);
    }
    throw new Error(`private RabbitMQ node on port ${port} did not start`);
  };
  const ctl = (command: string) =>
    run(`${RABBITMQ_BIN}rabbitmqctl`, ['-n', nodename, command], { env, timeout: 60_000 });
  await reachable();
  return {
    url,
    stopGracefully: async () => {
      await ctl('stop_app');
    },
    startAgain: async () => {
      await ctl('start_app');
      await reachable();
    },
    remove: async () => {
      if (node.exitCode === null && node.signalCode === null) {
        const exited = new Promise((resolve) => node.once('exit', resolve));
        process.kill(-node.pid!, 'SIGKILL'); // the whole group: the script and the Erlang VM
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A redis-server with an append-only file (fsync per write). */
export async function privateRedis(): Promise<PrivateBackend> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'taskwire-e2e-redis-'));
  let server: ChildProcess | undefined;
  const alive = () => server !== undefined && server.exitCode === null && server.signalCode === null;
  const client = () => {
    const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null });
    redis.on('error', () => undefined);
    return redis;
  };
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
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
      ],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 200; i++) {
      const probe = client();
      // Loading the append-only file answers PING with LOADING: wait for a real PONG.
      const pong = await probe
        .connect()
        .then(() => probe.ping())
        .catch(() => undefined);
      probe.disconnect();
      if (pong === 'PONG') return;
      await sleep(50);
    }
    throw new Error(`private redis-server on port ${port} did not start`);
  };
  const exit = async (how: () => Promise<void>) => {
    if (!alive()) return;
    const exited = new Promise((resolve) => server!.once('exit', resolve));
    await how();
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    stopGracefully: () =>
      exit(async () => {
        const admin = client();
        await admin.connect();
        await admin.call('SHUTDOWN').catch(() => undefined); // it closes the socket instead of replying
        admin.disconnect();
      }),
    startAgain: start,
    remove: async () => {
      await exit(async () => {
        server!.kill('SIGKILL');
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

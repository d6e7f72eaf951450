import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { freePort } from './free-port.js';

/** A RabbitMQ node of the caller's own on free loopback ports (never the shared broker). */
export interface PrivateBroker {
  readonly url: string;
  /** The loopback AMQP port it listens on. */
  readonly port: number;
  /** The management HTTP API (`http://127.0.0.1:<port>`), when started with `management: true`. */
  readonly managementUrl: string | undefined;
  /** SIGKILL the node and start it again on the same ports and data directory. */
  restart(): Promise<void>;
  /** SIGKILL the node (a restart is {@link kill} then {@link start}, for a broker down for a while). */
  kill(): Promise<void>;
  /** Start it again after {@link kill}; resolves once it accepts an AMQP connection. */
  start(): Promise<void>;
  /**
   * `rabbitmqctl stop_app`: the broker closes every connection with CONNECTION-FORCED and stops
   * serving, the Erlang node stays up (an operator's stop, unlike {@link kill}).
   */
  stopApp(): Promise<void>;
  /** `rabbitmqctl start_app` after {@link stopApp}; resolves once it accepts an AMQP connection. */
  startApp(): Promise<void>;
  /** SIGKILL the node and remove its directory. */
  stop(): Promise<void>;
}

// As root, the packaged `rabbitmq-server` re-runs itself as the rabbitmq user, who cannot write the
// node's directory: run the real script when it is there. The node runs in its own directory, so a
// killed node's crash dump (MnesiaCore.*) never lands in the caller's working directory.
export const RABBITMQ_SERVER =
  process.env.TASKWIRE_RABBITMQ_SERVER ??
  (existsSync('/usr/lib/rabbitmq/bin/rabbitmq-server')
    ? '/usr/lib/rabbitmq/bin/rabbitmq-server'
    : 'rabbitmq-server');

const RABBITMQCTL =
  process.env.TASKWIRE_RABBITMQCTL ??
  (existsSync('/usr/lib/rabbitmq/bin/rabbitmqctl') ? '/usr/lib/rabbitmq/bin/rabbitmqctl' : 'rabbitmqctl');

/**
 * Start a private RabbitMQ node (its own name, ports, data directory, cookie, no plugins). Durable
 * queues and confirmed persistent messages survive its restart. `management: true` enables the
 * `rabbitmq_management` plugin on a loopback port of its own, its statistics sampled every 500 ms.
 */
export async function startPrivateBroker(options: { management?: boolean } = {}): Promise<PrivateBroker> {
  const [port, distPort] = [await freePort(), await freePort()];
  const managementPort = options.management ? await freePort() : undefined;
  const dir = mkdtempSync(join(tmpdir(), 'taskwire-rabbitmq-private-'));
  const conf = [`listeners.tcp.1 = 127.0.0.1:${port}`];
  if (managementPort !== undefined) {
    conf.push(
      `management.tcp.port = ${managementPort}`,
      'management.tcp.ip = 127.0.0.1',
      'collect_statistics_interval = 500',
    );
  }
  writeFileSync(join(dir, 'rabbitmq.conf'), `${conf.join('\n')}\n`);
  writeFileSync(
    join(dir, 'enabled_plugins'),
    managementPort === undefined ? '[].\n' : '[rabbitmq_management].\n',
  );
  const env = {
    ...process.env,
    HOME: dir,
    RABBITMQ_NODENAME: `taskwire-test-${randomBytes(4).toString('hex')}@localhost`,
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_PID_FILE: join(dir, 'pid'),
  };
  const url = `amqp://guest:guest@127.0.0.1:${port}`;
  const accepting = async () => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const connection = await amqp.connect(url, { timeout: 2000 }).catch(() => undefined);
      if (connection) {
        await connection.close();
        return;
      }
      if (Date.now() > deadline)
        throw new Error(`private RabbitMQ node on port ${port} does not accept connections`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  // The node's own environment (HOME holds its cookie) so rabbitmqctl reaches it by name.
  const ctl = (command: string) =>
    new Promise<void>((resolve, reject) => {
      execFile(RABBITMQCTL, ['-n', env.RABBITMQ_NODENAME, command], { env, timeout: 60_000 }, (error) =>
        error ? reject(error) : resolve(),
      );
    });
  let node: ChildProcess | undefined;
  const start = async () => {
    const starting = spawn(RABBITMQ_SERVER, [], { env, cwd: dir, detached: true, stdio: 'ignore' });
    node = starting;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const connection = await amqp.connect(url, { timeout: 2000 }).catch(() => undefined);
      if (connection) {
        await connection.close();
        return;
      }
      if (starting.exitCode !== null)
        throw new Error(`private RabbitMQ node exited with ${starting.exitCode}`);
      if (Date.now() > deadline) throw new Error(`private RabbitMQ node on port ${port} did not start`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  const kill = async () => {
    const running = node;
    if (!running || running.exitCode !== null || running.signalCode !== null || running.pid === undefined)
      return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    process.kill(-running.pid, 'SIGKILL'); // the whole group: the script and the Erlang VM
    await exited;
  };
  const managementUrl = managementPort === undefined ? undefined : `http://127.0.0.1:${managementPort}`;
  await start();
  if (managementUrl !== undefined) await managementReady(managementUrl);
  return {
    url,
    port,
    managementUrl,
    restart: async () => {
      await kill();
      await start();
    },
    kill,
    start,
    stopApp: () => ctl('stop_app'),
    startApp: async () => {
      await ctl('start_app');
      await accepting();
    },
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Wait until the management API answers (the plugin starts after the AMQP listener). */
async function managementReady(url: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  const authorization = `Basic ${Buffer.from('guest:guest').toString('base64')}`;
  for (;;) {
    const response = await fetch(`${url}/api/overview`, { headers: { authorization } }).catch(
      () => undefined,
    );
    if (response?.ok) return;
    if (Date.now() > deadline)
      throw new Error(`the management API of the private RabbitMQ node (${url}) did not start`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';

/** The test broker; CI points TASKWIRE_AMQP_URL elsewhere if needed. */
export const AMQP_URL = process.env.TASKWIRE_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** A queue-name prefix unique to this run. */
export function runPrefix(): string {
  return `tw-test-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** Queue names under one run prefix, remembered for deletion after the file's tests. */
export function queueNamer(): { name: (label: string) => string; used: string[] } {
  const prefix = runPrefix();
  const used: string[] = [];
  return {
    name: (label) => {
      const queue = `${prefix}.${label}`;
      used.push(queue);
      return queue;
    },
    used,
  };
}

/**
 * Fail loudly when the broker is down: in CI a missing broker must fail the suite, never skip it.
 */
export async function assertBroker(): Promise<void> {
  try {
    const connection = await amqp.connect(AMQP_URL, { timeout: 5000 });
    await connection.close();
  } catch (error) {
    throw new Error(
      `RabbitMQ is not reachable at ${AMQP_URL.replace(/:[^:@/]*@/, ':***@')} (${(error as Error).message}); start it with \`rabbitmq-server -detached && rabbitmqctl await_startup\``,
    );
  }
}

/** Delete queues (with their delay queues, dead-letter queues and options markers) and exchanges. */
export async function deleteQueues(names: string[], delays: number[] = []): Promise<void> {
  const connection = await amqp.connect(AMQP_URL);
  try {
    for (const name of names) {
      const queues = [name, `${name}.dead`, `${name}.due`, ...delays.map((ms) => `${name}.delay.${ms}`)];
      const exchanges = [`taskwire.options.${name}`, `taskwire.fanout.${name}`];
      for (const queue of queues) {
        const channel = await connection.createChannel();
        channel.on('error', () => undefined);
        await channel.deleteQueue(queue).catch(() => undefined);
        await channel.close().catch(() => undefined);
      }
      for (const exchange of exchanges) {
        const channel = await connection.createChannel();
        channel.on('error', () => undefined);
        await channel.deleteExchange(exchange).catch(() => undefined);
        await channel.close().catch(() => undefined);
      }
    }
  } finally {
    await connection.close();
  }
}

/** A RabbitMQ node of the test's own on free loopback ports (never the shared broker). */
export interface PrivateBroker {
  readonly url: string;
  /** SIGKILL the node and start it again on the same ports and data directory. */
  restart(): Promise<void>;
  /** SIGKILL the node and remove its directory. */
  stop(): Promise<void>;
}

// As root, the packaged `rabbitmq-server` re-runs itself as the rabbitmq user, who cannot write the
// node's directory: run the real script when it is there.
const RABBITMQ_SERVER =
  process.env.TASKWIRE_RABBITMQ_SERVER ??
  (existsSync('/usr/lib/rabbitmq/bin/rabbitmq-server')
    ? '/usr/lib/rabbitmq/bin/rabbitmq-server'
    : 'rabbitmq-server');

/** A loopback port nobody listens on right now. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/**
 * Start a private RabbitMQ node (its own name, ports, data directory, cookie, no plugins). Durable
 * queues and confirmed persistent messages survive its restart.
 */
export async function startPrivateBroker(): Promise<PrivateBroker> {
  const [port, distPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'taskwire-rabbitmq-private-'));
  writeFileSync(join(dir, 'rabbitmq.conf'), `listeners.tcp.1 = 127.0.0.1:${port}\n`);
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
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
  let node: ChildProcess | undefined;
  const start = async () => {
    node = spawn(RABBITMQ_SERVER, [], { env, detached: true, stdio: 'ignore' });
    const deadline = Date.now() + 60_000;
    for (;;) {
      const connection = await amqp.connect(url, { timeout: 2000 }).catch(() => undefined);
      if (connection) {
        await connection.close();
        return;
      }
      if (node.exitCode !== null) throw new Error(`private RabbitMQ node exited with ${node.exitCode}`);
      if (Date.now() > deadline) throw new Error(`private RabbitMQ node on port ${port} did not start`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  const kill = async () => {
    if (!node || node.exitCode !== null || node.signalCode !== null) return;
    const exited = new Promise((resolve) => node!.once('exit', resolve));
    process.kill(-node.pid!, 'SIGKILL'); // the whole group: the script and the Erlang VM
    await exited;
  };
  await start();
  return {
    url,
    restart: async () => {
      await kill();
      await start();
    },
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

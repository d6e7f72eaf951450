import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import { freePort, RABBITMQ_SERVER } from './broker.js';

const run = promisify(execFile);

// As with the server script, call the real CLI when it is there (the wrapper re-runs itself as the rabbitmq user).
const RABBITMQCTL =
  process.env.TASKWIRE_RABBITMQCTL ??
  (existsSync('/usr/lib/rabbitmq/bin/rabbitmqctl') ? '/usr/lib/rabbitmq/bin/rabbitmqctl' : 'rabbitmqctl');

/** One node of a {@link PrivateCluster}. */
export interface ClusterNode {
  /** Erlang node name, `taskwire-cluster-…@localhost`. */
  readonly name: string;
  /** AMQP URL of this node. */
  readonly url: string;
  /** SIGKILL the node (the script and its Erlang VM): a crash, not a graceful stop. */
  kill(): Promise<void>;
  /** Start a killed node again on its ports and data directory: it rejoins the cluster. */
  start(): Promise<void>;
}

/** RabbitMQ nodes of the test's own, clustered together (never the shared broker). */
export interface PrivateCluster {
  readonly nodes: readonly ClusterNode[];
  /** `rabbitmqctl -n <node> …` against one of the cluster's nodes; resolves with its stdout. */
  ctl(node: ClusterNode, ...args: string[]): Promise<string>;
  /** The node that leads quorum queue `queue` right now. */
  leaderOf(queue: string, via: ClusterNode): Promise<ClusterNode>;
  /** Kill every node and remove their directories. */
  stop(): Promise<void>;
}

/**
 * Start `size` private RabbitMQ nodes on free loopback ports — each with its own name, data directory and
 * distribution port, all sharing an Erlang cookie of this cluster only — and join them to the first one.
 * `advancedConfig` is each node's `advanced.config` (Erlang terms).
 */
export async function startPrivateCluster(size = 3, advancedConfig = '[].'): Promise<PrivateCluster> {
  const id = randomBytes(4).toString('hex');
  const cookie = randomBytes(16).toString('hex').toUpperCase();
  const root = mkdtempSync(join(tmpdir(), 'taskwire-rabbitmq-cluster-'));
  const homes = new Map<string, string>();
  const nodes: ClusterNode[] = [];

  const ctl = async (node: ClusterNode, ...args: string[]): Promise<string> => {
    // The CLI finds the cookie in $HOME, like the node it talks to.
    const env = { ...process.env, HOME: homes.get(node.name)! };
    const { stdout } = await run(RABBITMQCTL, ['-n', node.name, ...args], { env, timeout: 120_000 });
    return stdout;
  };

  const stop = async () => {
    await Promise.all(nodes.map((node) => node.kill()));
    rmSync(root, { recursive: true, force: true });
  };

  try {
    for (let index = 1; index <= size; index++) {
      const [port, distPort] = [await freePort(), await freePort()];
      const dir = join(root, `node${index}`);
      mkdirSync(dir);
      writeFileSync(join(dir, 'rabbitmq.conf'), `listeners.tcp.1 = 127.0.0.1:${port}\n`);
      writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
      writeFileSync(join(dir, 'advanced.config'), `${advancedConfig}\n`);
      writeFileSync(join(dir, '.erlang.cookie'), cookie, { mode: 0o400 });
      const name = `taskwire-cluster-${id}-${index}@localhost`;
      homes.set(name, dir);
      const env = {
        ...process.env,
        HOME: dir,
        RABBITMQ_NODENAME: name,
        RABBITMQ_NODE_PORT: String(port),
        RABBITMQ_DIST_PORT: String(distPort),
        RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
        RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
        RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
        RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
        RABBITMQ_LOG_BASE: join(dir, 'log'),
        RABBITMQ_PID_FILE: join(dir, 'pid'),
      };
      const url = `amqp://guest:guest@127.0.0.1:${port}`;
      let child: ChildProcess | undefined;
      nodes.push({
        name,
        url,
        kill: async () => {
          if (!child || child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise((resolve) => child!.once('exit', resolve));
          process.kill(-child.pid!, 'SIGKILL'); // the whole group: the script and the Erlang VM
          await exited;
        },
        start: async () => {
          // Its own directory as cwd: a node killed mid-write leaves its Mnesia core dump there, not in the repo.
          child = spawn(RABBITMQ_SERVER, [], { env, cwd: dir, detached: true, stdio: 'ignore' });
          await awaitAmqp(url, child);
        },
      });
    }
    await Promise.all(nodes.map((node) => node.start()));
    const [first, ...others] = nodes;
    for (const node of others) {
      await ctl(node, 'stop_app');
      await ctl(node, 'join_cluster', first!.name);
      await ctl(node, 'start_app');
    }
    await Promise.all(nodes.map((node) => ctl(node, 'await_startup')));
    const status = await ctl(first!, 'cluster_status', '--formatter', 'json');
    const running = (JSON.parse(status) as { running_nodes: string[] }).running_nodes;
    if (running.length !== size)
      throw new Error(`cluster formed with ${running.length} of ${size} nodes running`);
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    nodes,
    ctl,
    stop,
    leaderOf: async (queue, via) => {
      const listed = await ctl(via, 'list_queues', 'name', 'leader', '--formatter', 'json');
      const row = (JSON.parse(listed) as { name: string; leader: string }[]).find((q) => q.name === queue);
      const leader = nodes.find((node) => node.name === row?.leader);
      if (!leader) throw new Error(`no leader found for quorum queue "${queue}" (${listed.trim()})`);
      return leader;
    },
  };
}

/** Wait until `url` accepts AMQP connections (at most a minute; a node that exits fails at once). */
async function awaitAmqp(url: string, node: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const connection = await amqp.connect(url, { timeout: 2000 }).catch(() => undefined);
    if (connection) {
      await connection.close();
      return;
    }
    if (node.exitCode !== null) throw new Error(`private RabbitMQ node exited with ${node.exitCode}`);
    if (Date.now() > deadline) throw new Error(`private RabbitMQ node at ${url} did not start`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

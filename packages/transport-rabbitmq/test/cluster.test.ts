import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Connection, Master, type TaskResult, taskQueueOptions, Worker } from '@taskwire/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRabbitMQTransport } from '../src/index.js';
import { type ClusterNode, type PrivateCluster, startPrivateCluster } from './cluster.js';

// CI sizes; `pnpm --filter @taskwire/transport-rabbitmq test:cluster` runs the full ones (README).
const ITEMS = Number(process.env.TASKWIRE_CLUSTER_ITEMS ?? 3000);
const TASKS = Number(process.env.TASKWIRE_CLUSTER_TASKS ?? 1000);
const CLI_TASKS = Number(process.env.TASKWIRE_CLUSTER_CLI_TASKS ?? 2000);
// The real CLIs, as built by `pnpm build` (the repository's `pnpm test` builds first).
const MASTER_CLI = fileURLToPath(new URL('../../../apps/master/dist/cli.js', import.meta.url));
const WORKER_CLI = fileURLToPath(new URL('../../../apps/worker/dist/cli.js', import.meta.url));
const PREFETCH = 50;
// Generous bounds for a loaded machine: outcomes are asserted, never speed.
const DRAIN_LIMIT_MS = 180_000;

const transport = createRabbitMQTransport({
  queueType: 'quorum',
  reconnect: { initialDelayMs: 50, maxDelayMs: 1000 },
});
let cluster: PrivateCluster;
const opened: Connection[] = [];

async function connect(node: ClusterNode): Promise<Connection> {
  const connection = await transport.connect({ url: node.url });
  opened.push(connection);
  return connection;
}

/** Resolves once `done()` is true, checking every 50 ms; rejects with `what` after `limitMs`. */
async function until(done: () => boolean, limitMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Declare `declare()` through the node that should lead the queue (quorum queues start with their leader on the
 * declaring node), check it does, and return the two other nodes for the clients.
 */
async function ledBy(leader: ClusterNode, queue: string, declare: (c: Connection) => Promise<unknown>) {
  const declaring = await transport.connect({ url: leader.url });
  await declare(declaring);
  await declaring.close();
  expect((await cluster.leaderOf(queue, leader)).name).toBe(leader.name);
  return cluster.nodes.filter((node) => node !== leader) as [ClusterNode, ClusterNode];
}

beforeAll(async () => {
  cluster = await startPrivateCluster(3);
}, 300_000);
afterAll(async () => {
  await Promise.allSettled(opened.map((connection) => connection.close()));
  await cluster?.stop();
}, 60_000);

describe('quorum queues on a three-node cluster the test starts', () => {
  it(`${ITEMS} items, the queue's leader node killed mid-run: every item received and acked, none lost`, async () => {
    const name = `tw-cluster-items-${Date.now().toString(36)}`;
    const leader = cluster.nodes[2]!;
    const [producerNode, consumerNode] = await ledBy(leader, name, (c) => c.queue(name));

    const producer = await (await connect(producerNode)).queue<number>(name);
    const consumer = await (await connect(consumerNode)).queue<number>(name);
    const received = new Map<number, number>();
    let acked = 0;
    await consumer.consume(
      async (delivery) => {
        received.set(delivery.body, (received.get(delivery.body) ?? 0) + 1);
        await delivery.ack();
        acked++;
      },
      { prefetch: PREFETCH },
    );

    let killed = false;
    let receivedAtKill = 0;
    // Puts in confirmed batches of 100; a third of the way in, with items being consumed, the leader is killed.
    // No put may be refused or lost while the surviving nodes elect a new leader.
    for (let next = 0; next < ITEMS; next += 100) {
      if (next >= ITEMS / 3 && !killed) {
        await until(
          () => received.size > 0,
          DRAIN_LIMIT_MS,
          () => 'consuming',
        );
        await leader.kill();
        killed = true;
        receivedAtKill = received.size;
      }
      await producer.putMany(Array.from({ length: Math.min(100, ITEMS - next) }, (_, i) => next + i));
    }
    await until(
      () => received.size === ITEMS,
      DRAIN_LIMIT_MS,
      () => `${received.size} of ${ITEMS} items received after the leader was killed`,
    );
    expect(killed).toBe(true);
    expect([...received.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: ITEMS }, (_, i) => i));
    // Acks were honoured: once every delivery is acked, nothing is left and nothing comes back.
    await until(
      () => acked >= ITEMS,
      DRAIN_LIMIT_MS,
      () => `${acked} acks`,
    );
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(await consumer.size()).toBe(0);
    const duplicates = [...received.values()].reduce((sum, count) => sum + count - 1, 0);
    // At-least-once: only deliveries whose ack was in flight when the leader died may come again.
    expect(duplicates).toBeLessThanOrEqual(PREFETCH * 2);
    console.log(
      `cluster items: leader killed after ${receivedAtKill} received; ${ITEMS} received, ${duplicates} redelivered`,
    );

    await leader.start(); // rejoins, for the next test
  }, 400_000);

  it(`${TASKS} tasks through a Master and a Worker, the task queue's leader killed mid-run: every result exactly once`, async () => {
    const queue = `tw-cluster-tasks-${Date.now().toString(36)}`;
    const leader = cluster.nodes[0]!;
    const [masterNode, workerNode] = await ledBy(leader, queue, (c) =>
      c.queue(queue, taskQueueOptions(queue)),
    );

    const worker = await Worker.start({
      connection: await connect(workerNode),
      queue,
      concurrency: 8,
      handler: (n: number) => n * n,
    });
    const master = await Master.start({ connection: await connect(masterNode), queue });
    try {
      const results: TaskResult<number, number>[] = [];
      const killing = until(
        () => results.length >= TASKS / 3,
        DRAIN_LIMIT_MS,
        () => 'a third of the results',
      );
      const inputs = Array.from({ length: TASKS }, (_, i) => i);
      let killed = false;
      void killing.then(async () => {
        await leader.kill();
        killed = true;
      });
      for await (const result of master.map<number, number>(inputs, { window: 200 })) results.push(result);
      await killing;
      await until(
        () => killed,
        60_000,
        () => 'the leader killed',
      );

      expect(results).toHaveLength(TASKS);
      expect(results.every((result) => result.ok)).toBe(true);
      const payloads = results.map((result) => result.payload!).sort((a, b) => a - b);
      expect(payloads).toEqual(inputs);
      expect(new Set(results.map((result) => result.taskId)).size).toBe(TASKS);
      for (const result of results) expect(result.value).toBe(result.payload! * result.payload!);
    } finally {
      await master.close();
      await worker.stop();
      await leader.start();
    }
  }, 400_000);

  it(`${CLI_TASKS} tasks through the real taskwire-master and two taskwire-workers, the leader killed mid-run: every result exactly once`, async () => {
    for (const cli of [MASTER_CLI, WORKER_CLI]) expect(existsSync(cli), `${cli} (run pnpm build)`).toBe(true);
    const queue = `tw-cluster-cli-${Date.now().toString(36)}`;
    const leader = cluster.nodes[1]!;
    const [masterNode, workerNode] = await ledBy(leader, queue, (c) =>
      c.queue(queue, taskQueueOptions(queue)),
    );
    const quorumUrl = (node: ClusterNode) => `${node.url}?queueType=quorum`;
    const dir = mkdtempSync(join(tmpdir(), 'taskwire-cluster-cli-'));
    const output = join(dir, 'results.jsonl');
    // Distinct payloads, so every result line names the one task it answers.
    const input = join(dir, 'inputs.jsonl');
    writeFileSync(input, `${Array.from({ length: CLI_TASKS }, (_, i) => String(i)).join('\n')}\n`);
    const processes: ChildProcess[] = [];
    const exited = (child: ChildProcess) =>
      new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const cli = (path: string, args: string[]) => {
      const child = spawn(process.execPath, [path, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      processes.push(child);
      return { child, exit: exited(child), stderr: () => stderr };
    };
    const lines = () => (existsSync(output) ? readFileSync(output, 'utf8').split('\n').filter(Boolean) : []);
    try {
      const workers = [1, 2].map((n) =>
        cli(WORKER_CLI, [
          '--url',
          quorumUrl(workerNode),
          '--queue',
          queue,
          '--idle-exit',
          '15',
          '--name',
          `w${n}`,
        ]),
      );
      const master = cli(MASTER_CLI, [
        ...['--url', quorumUrl(masterNode), '--queue', queue, '--input', input],
        ...['--window', '200', '--output', output, '--no-progress'],
      ]);
      await until(
        () => lines().length >= CLI_TASKS / 3,
        DRAIN_LIMIT_MS,
        () => `${lines().length} results`,
      );
      const resultsAtKill = lines().length;
      await leader.kill();
      const code = await master.exit;
      expect(code, master.stderr()).toBe(0);
      const results = lines().map(
        (line) => JSON.parse(line) as { input: number; ok: boolean; value: number },
      );
      expect(results).toHaveLength(CLI_TASKS);
      expect(results.map((result) => result.input).sort((a, b) => a - b)).toEqual(
        Array.from({ length: CLI_TASKS }, (_, i) => i),
      );
      for (const result of results) expect(result).toMatchObject({ ok: true, value: result.input ** 2 });
      expect(resultsAtKill).toBeLessThan(CLI_TASKS);
      for (const worker of workers) expect(await worker.exit, worker.stderr()).toBe(0);
    } finally {
      for (const child of processes) if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      await leader.start();
    }
  }, 400_000);
});

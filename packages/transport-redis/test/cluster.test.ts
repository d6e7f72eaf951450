import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  acknowledgementCases,
  boundedQueueCases,
  broadcastCases,
  deadLetterCases,
  delayCases,
  durationCases,
  getCases,
  orderingCases,
  payloadCases,
  queueCases,
  redeliveryCases,
  throughputCases,
} from '@taskwire/conformance';
import type { ConnectOptions } from '@taskwire/core';
import { Cluster } from 'ioredis';
import { afterAll, describe } from 'vitest';
import { createRedisTransport, queueKeys } from '../src/index.js';
import { freePort } from './redis.js';

// A private three-node Redis Cluster on loopback ports: proof that every multi-key operation of a
// queue stays in one hash slot ({prefix:queue}) and that nothing assumes a single server.
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'taskwire-redis-cluster-'));
const nodes: ChildProcess[] = [];

async function waitFor(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function startCluster(): Promise<number[]> {
  const ports = [await freePort(), await freePort(), await freePort()];
  for (const port of ports) {
    nodes.push(
      spawn(
        'redis-server',
        [
          '--bind',
          '127.0.0.1',
          '--port',
          String(port),
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          dir,
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${port}.conf`,
        ],
        { stdio: 'ignore' },
      ),
    );
  }
  for (const port of ports) {
    await waitFor(
      async () => (await run('redis-cli', ['-p', String(port), 'ping'])).stdout.includes('PONG'),
      10_000,
      `node ${port}`,
    );
  }
  await run(
    'redis-cli',
    [
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ],
    {
      timeout: 20_000,
    },
  );
  await waitFor(
    async () =>
      (await run('redis-cli', ['-p', String(ports[0]), 'cluster', 'info'])).stdout.includes(
        'cluster_state:ok',
      ),
    20_000,
    'cluster_state:ok',
  );
  return ports;
}

const ports = await startCluster();
const cluster = new Cluster(
  ports.map((port) => ({ host: '127.0.0.1', port })),
  { redisOptions: { maxRetriesPerRequest: null }, enableAutoPipelining: true },
);
const transport = createRedisTransport();

afterAll(async () => {
  cluster.disconnect();
  for (const node of nodes) node.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const options = {
  name: 'redis cluster',
  connect: (connectOptions?: ConnectOptions) =>
    transport.connect({ client: cluster, prefix: 'cluster', ...connectOptions }),
  capabilities: transport.capabilities,
  rawPut: async (queue: string, bytes: Uint8Array) => {
    await cluster.rpush(
      queueKeys('cluster', queue).ready,
      Buffer.concat([Buffer.from(`raw-${queue}|0||`), bytes]),
    );
  },
};

// Every group but the fault and persistence ones, which run against a single server in
// conformance.test.ts: a cluster announces its nodes' own addresses, so no proxy per connection
// can stand in front of them, and the connections here share one client.
describe('redis cluster conformance', () => {
  for (const group of [
    orderingCases,
    boundedQueueCases,
    getCases,
    acknowledgementCases,
    deadLetterCases,
    redeliveryCases,
    delayCases,
    durationCases,
    throughputCases,
    payloadCases,
    queueCases,
    broadcastCases,
  ]) {
    group(options);
  }
});

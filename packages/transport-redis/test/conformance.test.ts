import { randomBytes } from 'node:crypto';
import { proxiedConnections, runConformanceSuite } from '@taskwire/conformance';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { createRedisTransport, queueKeys } from '../src/index.js';
import {
  adminClient,
  deleteKeys,
  type PrivateRedis,
  REDIS_URL,
  startPrivateRedis,
  uniquePrefix,
} from './redis.js';

const transport = createRedisTransport();
const prefix = uniquePrefix('conformance');
let admin: Redis;
// The persistence case restarts a server of its own, with an fsynced append-only file.
let restartable: PrivateRedis;

// Fault cases: short leases (a dropped connection's deliveries return after leaseTtlMs), short
// blocking waits, and each connection through a proxy of its own.
const FAULT_OPTIONS = { prefix, leaseTtlMs: 1500, maxBlockMs: 300 };
const shared = new URL(REDIS_URL);
const proxied = proxiedConnections(
  { host: shared.hostname, port: Number(shared.port || 6379) },
  (port, options) => {
    const url = new URL(REDIS_URL);
    url.hostname = '127.0.0.1';
    url.port = String(port);
    return transport.connect({ url: url.toString(), ...FAULT_OPTIONS, ...options });
  },
);

beforeAll(async () => {
  admin = await adminClient();
  restartable = await startPrivateRedis({ persistent: true });
});
afterAll(async () => {
  await proxied.close();
  await restartable?.stop();
  await deleteKeys(admin, prefix);
  admin.disconnect();
});

runConformanceSuite({
  name: 'redis',
  connect: (o) => transport.connect({ url: REDIS_URL, prefix, ...o }),
  capabilities: transport.capabilities,
  cleanup: async () => {
    await deleteKeys(admin, prefix);
  },
  // A stored envelope (id|attempt|score|payload) whose payload is the given bytes.
  rawPut: async (queue, bytes) => {
    const envelope = Buffer.concat([Buffer.from(`raw-${randomBytes(6).toString('hex')}|0||`), bytes]);
    await admin.rpush(queueKeys(prefix, queue).ready, envelope);
  },
  faults: {
    connect: proxied.connect,
    breakConnection: proxied.breakConnection,
    reconnects: true,
    // leaseTtlMs, plus a heartbeat period (a third of it) and a blocking wait, plus reconnecting.
    recoveryMs: 3000,
    restartBackend: () => restartable.restart(),
    connectRestartable: (options) =>
      transport.connect({ url: restartable.url, ...FAULT_OPTIONS, ...options }),
  },
});
